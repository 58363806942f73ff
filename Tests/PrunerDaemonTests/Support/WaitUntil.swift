// Waiting on an event instead of sleeping for a guessed time: a test polls the
// real condition (a log line, a file's line count, a status answer, a notify
// message) and goes on the moment it holds, so it is as fast as the daemon and
// still patient on a loaded machine.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every `poll` seconds until it holds or `timeout` seconds pass. On timeout it
/// records an issue naming `what` it waited for (at the caller's line) and returns false, so a
/// failure says what never happened instead of failing a later assertion on a half-finished run.
@discardableResult
func waitUntil(_ what: @autoclosure () -> String, timeout: TimeInterval = 20, poll: TimeInterval = 0.02,
               sourceLocation: SourceLocation = #_sourceLocation, _ condition: () throws -> Bool) rethrows -> Bool {
    if try pollUntil(timeout: timeout, poll: poll, condition) { return true }
    Issue.record("timed out after \(timeout) s waiting for \(what())", sourceLocation: sourceLocation)
    return false
}

/// Polls `condition` like `waitUntil` but records nothing on timeout: for callers to which a
/// timeout is an answer (a process that must be killed if it has not exited by itself).
func pollUntil(timeout: TimeInterval, poll: TimeInterval = 0.02, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        usleep(useconds_t(poll * 1_000_000))
    }
}

// The status document's time series stays bounded and covers the whole run.
import Testing
@testable import PrunerDaemon

@Suite("status history")
struct StatusHistoryTests {
    func tally(_ kept: Int, _ dropped: Int) -> DecisionTally {
        var tally = DecisionTally()
        tally.kept = kept
        tally.dropped = dropped
        return tally
    }

    @Test("a long run thins out: at most the capacity, the start and the latest second kept, intervals doubling")
    func boundedOverALongRun() {
        var history = StatusHistory(capacity: 16)
        for second in 1...1000 { history.record(seconds: Double(second), tally: tally(second * 3, second * 7)) }
        #expect(history.samples.count < 16)
        #expect(history.samples.count >= 8)
        #expect(history.samples.first?.seconds == 0)
        #expect(history.interval == 128)
        let gaps = zip(history.samples.dropFirst(), history.samples).map { $0.seconds - $1.seconds }
        #expect(gaps.allSatisfy { $0 >= 64 })
        #expect((history.samples.last?.seconds ?? 0) >= 1000 - 128)
        #expect(history.samples.allSatisfy { $0.kept * 7 == $0.dropped * 3 })
    }

    @Test("the document ends with the totals at the moment of the request")
    func documentEndsNow() {
        var history = StatusHistory()
        history.record(seconds: 1, tally: tally(3, 7))
        var json = JSONWriter()
        json.open()
        history.write(into: &json, now: 1.5, tally: tally(6, 14))
        json.close()
        #expect(json.text == #"{"history":{"interval_seconds":1.000000,"columns":["seconds","records","kept","dropped","rejected"],"samples":[[0.000000,0,0,0,0],[1.000000,10,3,7,0],[1.500000,20,6,14,0]]}}"#)
    }
}

// The commit of a Redis stream entry's decisions (docs/scale-out.md, "When an
// entry is acknowledged"): one script, run atomically by Redis, acknowledges the
// entry only if it is still pending for this consumer and, in the same step,
// stores its decision lines in this consumer's `unlogged` hash. The lines go to
// the decision log only after that: a line in a log is always a committed one, so
// an entry that another consumer claimed meanwhile (this shard was dead or stalled
// past `--claim-after`) is decided in one log only. The hash field is deleted once
// the lines are fsynced; a restart writes what the hash still holds and the log
// lacks (a kill between the commit and the fsync).
#if canImport(Glibc)
import Glibc
#endif

/// The commit script, its keys and what its reply means.
enum RedisEntryCommit {
    /// Per entry id (ARGV 3, 5, …) with its lines (ARGV 4, 6, …): 1 committed now; 2 not pending,
    /// but this consumer's hash holds it (an earlier commit whose reply was lost); 0 not pending
    /// for this consumer (claimed by another, or acknowledged already): not committed; 3 the
    /// group is gone (Redis lost it): nobody else can hold the entry.
    static let script = """
    local out = {}
    for i = 3, #ARGV, 2 do
      local id = ARGV[i]
      local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], id, id, 1)
      if type(p) == 'table' and p.err then
        out[#out + 1] = 3
      elseif p[1] and p[1][2] == ARGV[2] then
        redis.call('XACK', KEYS[1], ARGV[1], id)
        if #ARGV[i + 1] > 0 then redis.call('HSET', KEYS[2], id, ARGV[i + 1]) end
        out[#out + 1] = 1
      elseif redis.call('HEXISTS', KEYS[2], id) == 1 then
        out[#out + 1] = 2
      else
        out[#out + 1] = 0
      end
    end
    return out
    """

    /// What Redis answered for one entry.
    enum Outcome: Int {
        case committed = 1
        case committedEarlier = 2
        case notOurs = 0
        case groupGone = 3
    }

    /// The hash of this consumer's committed lines not yet fsynced in its log (field: entry id).
    static func unloggedKey(stream: String, group: String, consumer: String) -> String {
        "prunerd:stream:\(stream):\(group):unlogged:\(consumer)"
    }

    /// The test hook `PRUNERD_TEST_KILL_AT` (tests only; unset in service): `before-commit`
    /// SIGKILLs the daemon when its first commit with lines is about to be sent (decided, not
    /// committed: the moment the old fsync-then-XACK order had lines in the log and none in
    /// Redis), `after-commit` when the first commit is confirmed and its lines are not yet written.
    enum KillPoint: String {
        case beforeCommit = "before-commit"
        case afterCommit = "after-commit"

        static let configured: KillPoint? = getenv("PRUNERD_TEST_KILL_AT").flatMap { KillPoint(rawValue: String(cString: $0)) }

        /// SIGKILLs this process if `PRUNERD_TEST_KILL_AT` names this point.
        func killIfConfigured() {
            if Self.configured == self { kill(getpid(), SIGKILL) }
        }
    }
}

// `prunerd serve`'s Redis options: stream inputs (--listen redis://…, --consumer,
// --claim-after) and the decision stream (--decisions redis://…, --decisions-maxlen).
import ArgumentParser
import PrunerConfig
import PrunerDaemon

extension ServeCommand {
    /// Fills `configuration`'s Redis parts from the command line, else the config file.
    /// - Parameter shardID: `--cluster`'s shard id, the consumer name when `--consumer` is not given
    ///   (one name per shard, in the group and in the cluster).
    func applyRedisOptions(addresses: [String], resolved: ResolvedOutput, file: ConfigFile?, shardID: String?,
                           to configuration: inout DaemonConfiguration) throws {
        let consumer = try self.consumer ?? file?.string("consumer") ?? shardID
        let claimAfter = try self.claimAfter ?? file?.double("claim-after")
        if let claimAfter, !(claimAfter > 0) { throw ValidationError("--claim-after must be a positive number of seconds") }
        configuration.redisStreams = try addresses.map { text in
            try RedisStreamConfiguration(url: try RedisURL(parsing: text), consumer: consumer, claimAfter: claimAfter)
        }
        if let stream = resolved.decisionStream {
            let maxLength = try decisionsMaxlen ?? file?.int("decisions-maxlen") ?? RedisDecisionStreamConfiguration.defaultMaxLength
            configuration.decisionStream = try RedisDecisionStreamConfiguration(url: try RedisURL(parsing: stream), maxLength: maxLength)
        }
    }
}

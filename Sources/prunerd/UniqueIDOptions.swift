// `prunerd serve --unique-ids`: answering a repeated id `drop`/`duplicate_id`
// (a crawler's retry must not double a kept set), in memory fixed by the
// number of records expected (docs/reliability.md, "Duplicate ids").
import ArgumentParser
import PrunerConfig

/// Whether and how ids are checked for repeats.
struct UniqueIDOptions: ParsableArguments, Sendable {
    @Flag(name: .customLong(ServeOptions.uniqueIDs.name),
          help: "A record whose id was already decided (in this run, or before the checkpoint it resumed from) or is waiting for the engine is answered drop with reason duplicate_id, without the engine. A Bloom filter, checkpointed with the state: about 1 in 10,000 new records is dropped as duplicate_id by mistake once --expected-records ids are held, more beyond.")
    var uniqueIDs = false

    @Option(name: .customLong(ServeOptions.expectedRecords.name),
            help: ArgumentHelp("Distinct ids the --unique-ids filter is sized for: 19.2 bits each, so the default 10000000 takes 24 MB at a false-positive rate of 1e-4. A filter restored from a checkpoint keeps its size.", valueName: "n"))
    var expectedRecords: Int?

    /// What these options say, as command-line values of the option table.
    func record(into values: inout CommandLineValues) {
        values.set(ServeOptions.uniqueIDs, flag: uniqueIDs)
        values.set(ServeOptions.expectedRecords, expectedRecords)
    }
}

using OrleansJobs.Benchmarks;

// Benchmarks of the running system: PostgreSQL, real silo processes and the API host, with the
// load coming from this process over HTTP. Run through deploy/bench.sh, which builds first.
var options = BenchOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

try
{
    return options.Scenario switch
    {
        "throughput" => await ThroughputBenchmark.RunAsync(options, stop.Token),
        "recovery" => await RecoveryBenchmark.RunAsync(options, stop.Token),
        "files" => await FilesBenchmark.RunAsync(options, stop.Token),
        "devices" => await DevicesBenchmark.RunAsync(options, stop.Token),
        "retention" => await RetentionBenchmark.RunAsync(options, stop.Token),
        "validator" => await ValidatorBenchmark.RunAsync(options, stop.Token),
        "archive" => await ArchiveBenchmark.RunAsync(options, stop.Token),
        "auth" => await AuthBenchmark.RunAsync(options, stop.Token),
        "events" => await EventsBenchmark.RunAsync(options, stop.Token),
        _ => 2,
    };
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("[bench] interrupted");
    return 130;
}

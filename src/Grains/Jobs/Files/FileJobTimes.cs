using System.Diagnostics;

namespace OrleansJobs.Jobs.Files;

/// <summary>
/// Milliseconds a file job spends on its bookkeeping (the transaction log, the catalog, checkpoints),
/// kept in its checkpoint counters, so the cost of safety can be read off every job (the file
/// benchmark prints it).
/// </summary>
public sealed class FileJobTimes(Dictionary<string, long> counters)
{
    public const string Log = "logMs";
    public const string Catalog = "catalogMs";
    public const string Checkpoints = "checkpointMs";
    public const string Plan = "planMs";
    public const string Copy = "copyMs";
    public const string Flush = "flushMs";
    public const string Verify = "verifyMs";
    public const string Rename = "renameMs";

    /// <summary>Adds the time until the result is disposed to <paramref name="counter"/>.</summary>
    public IDisposable Measure(string counter) => new Span(this, counter, Stopwatch.GetTimestamp());

    private void Add(string counter, TimeSpan elapsed)
    {
        lock (counters)
        {
            counters[counter] = counters.GetValueOrDefault(counter) + (long)elapsed.TotalMilliseconds;
        }
    }

    private sealed class Span(FileJobTimes times, string counter, long started) : IDisposable
    {
        public void Dispose() => times.Add(counter, Stopwatch.GetElapsedTime(started));
    }
}

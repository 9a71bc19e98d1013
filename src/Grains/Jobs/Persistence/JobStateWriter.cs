using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs.Projections;
using OrleansJobs.Membership;
using OrleansJobs.Telemetry;

namespace OrleansJobs.Jobs.Persistence;

/// <summary>
/// Stores one job's state: every write is the commit point of a decision. After a write the
/// journal entries waiting in the state's outbox and the index row go to the silo's
/// <see cref="ProjectionBatcher"/>; each entry leaves the outbox once its write is confirmed.
/// A failed write (the database is away) is retried with backoff, so a change the caller was
/// told failed is not left half-done in memory forever. A silo declared dead writes nothing: the
/// job store refuses its writes (<see cref="SiloMembershipRow.NotDeadSql"/>), and once the silo
/// knows, it does not even try.
/// </summary>
internal sealed partial class JobStateWriter(
    string jobId, IPersistentState<JobState> state, ProjectionBatcher projections, SiloLiveness liveness, string silo, TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan FlushMaxDelay = TimeSpan.FromSeconds(5);

    private long _handedOverSeq; // journal entries up to here were given to the batcher by this activation
    private IGrainTimer? _flushTimer;
    private int _flushFailures;

    /// <summary>Registers the flush timer on the owning grain; null while the grain cannot take timers (activating, deactivating).</summary>
    public Func<Func<CancellationToken, Task>, TimeSpan, IGrainTimer>? RegisterTimer { get; set; }

    private int _projecting; // grain turns only

    /// <summary>The index row of the state as it is being stored (with the live run's progress).</summary>
    public required Func<JobIndexRow> IndexRow { get; init; }

    /// <summary>
    /// Journal entries up to this seq may be in the journal already: the stored outbox's, which an earlier activation may
    /// have written, and those of a projection that failed after its commit perhaps. They are checked before the insert.
    /// </summary>
    public long MaybeStoredThrough { get; set; }

    /// <summary>Counts what each successful write made durable.</summary>
    public JobCommitMetrics? Metrics { get; init; }

    /// <summary>Called after every successful write, before the projection is sent.</summary>
    public Action? Saved { get; init; }

    /// <summary>Called after a retried write finally succeeded: what the failed write's caller would have done after it.</summary>
    public Func<Task>? Flushed { get; init; }

    public async Task SaveAsync()
    {
        liveness.ThrowIfDeclaredDead();
        var job = state.State;
        job.Version++;
        job.UpdatedAt = time.GetUtcNow();
        job.ActiveSilo = silo;
        var started = Stopwatch.GetTimestamp();
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or Orleans.Storage.InconsistentStateException or SiloDeclaredDeadException))
        {
            ScheduleFlush();
            throw;
        }

        CancelFlush();
        Metrics?.Stored(job, Stopwatch.GetElapsedTime(started));
        Saved?.Invoke();
        Project();
    }

    /// <summary>
    /// Sends the index row and the journal entries not yet handed over. After a failed projection its
    /// entries are sent again with the next write (or by the next activation, from the stored outbox).
    /// </summary>
    public void Project()
    {
        var outbox = state.State.Outbox;
        var entries = outbox.Where(e => e.Seq > _handedOverSeq).ToList();
        if (entries.Count > 0)
        {
            _handedOverSeq = entries[^1].Seq;
        }

        _projecting++;
        _ = ConfirmAsync(projections.WriteAsync(IndexRow(), entries, MaybeStoredThrough), entries);

        async Task ConfirmAsync(Task written, List<JobJournalEntry> sent)
        {
            try
            {
                await written;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _projecting--;
                // A lost index row is rewritten by the next write; lost entries are sent again.
                if (sent.Count > 0)
                {
                    // What was handed over after these may be written by then, and goes again with them.
                    MaybeStoredThrough = Math.Max(MaybeStoredThrough, Math.Max(_handedOverSeq, sent[^1].Seq));
                    _handedOverSeq = Math.Min(_handedOverSeq, sent[0].Seq - 1);
                }

                return;
            }

            _projecting--;
            if (sent.Count > 0)
            {
                outbox.RemoveAll(e => e.Seq >= sent[0].Seq && e.Seq <= sent[^1].Seq);
            }
        }
    }

    /// <summary>Projections handed to the batcher and not yet written (or failed): while any is, the index row may trail the state.</summary>
    public int ProjectionsInFlight => _projecting;

    /// <summary>Forgets a state that was never stored (a refused submit): nothing of it may be written later.</summary>
    public void Discard()
    {
        CancelFlush();
        state.State = new JobState();
        Metrics?.Discarded();
    }

    private void ScheduleFlush()
    {
        if (RegisterTimer is not { } register || _flushTimer is not null || !state.State.Exists)
        {
            return;
        }

        _flushFailures++;
        var delay = TimeSpan.FromMilliseconds(Math.Min(FlushMaxDelay.TotalMilliseconds, 250 * Math.Pow(2, Math.Min(_flushFailures - 1, 10))));
        _flushTimer = register(FlushAsync, delay);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        // A one-shot timer: disposing it here would cancel this very callback.
        _flushTimer = null;
        try
        {
            await SaveAsync();
            LogFlushed(logger, jobId, _flushFailures);
            _flushFailures = 0;
            if (Flushed is { } flushed)
            {
                await flushed();
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogFlushFailed(logger, jobId, ex.GetType().Name, ex.Message);
        }
    }

    private void CancelFlush()
    {
        _flushTimer?.Dispose();
        _flushTimer = null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: its state is stored again after {Failures} failed write(s)")]
    private static partial void LogFlushed(ILogger logger, string jobId, int failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: storing its state failed again ({Error}: {Message}); retrying")]
    private static partial void LogFlushFailed(ILogger logger, string jobId, string error, string message);
}

using System.Text.Json;

namespace OrleansJobs.Jobs.Handlers;

/// <summary>What a running handler sees of its job.</summary>
public interface IJobContext
{
    string JobId { get; }

    /// <summary>1 for the first attempt; each retry or restart adds one.</summary>
    int Attempt { get; }

    /// <summary>The submitted parameters (already validated by <see cref="IJobHandler.Validate"/>).</summary>
    JsonElement Parameters { get; }

    /// <summary>Where to resume: <see cref="JobCheckpoint.Start"/> on a fresh start.</summary>
    JobCheckpoint Checkpoint { get; }

    /// <summary>Graceful stop (cancel, pause, silo shutdown): finish the current item, then return.</summary>
    CancellationToken StopRequested { get; }

    /// <summary>Hard stop (kill): abandon the current item at once. Later reports from this run are refused.</summary>
    CancellationToken Aborted { get; }

    /// <summary>Progress reporting: totals and weighted sub-operations.</summary>
    JobProgressTracker Progress { get; }

    /// <summary>
    /// Records that an item is finished: <paramref name="cursor"/> is where to resume after it.
    /// Counts it, and persists a checkpoint when one is due (every N items or T seconds), in
    /// which case this returns after the checkpoint is durable. Throws
    /// <see cref="JobRunSupersededException"/> if this run was killed or replaced.
    /// </summary>
    ValueTask ItemDoneAsync(string cursor, IReadOnlyDictionary<string, long>? counters = null);

    /// <summary>Leaves a message in the job's bounded message history.</summary>
    void Log(JobMessageLevel level, string text);

    /// <summary>The library the job works on (the run holds its lock); null for a job that names none.</summary>
    string? LibraryId { get; }

    /// <summary>
    /// Registers what must be durable before a checkpoint is stored: effects the handler buffers (rows
    /// written in batches) are flushed first, so a checkpoint never claims items whose effects could
    /// be lost. Also called when the handler returns, before the run's end is reported. A flush that
    /// throws counts as a checkpoint not stored (tried again later), or, at the end, as a failed attempt.
    /// </summary>
    void BeforeCheckpoint(Func<CancellationToken, Task> flush);

    /// <summary>
    /// Enters a section whose effect no database write can fence (renaming or deleting a file).
    /// Throws <see cref="JobRunSupersededException"/> when this run was killed or replaced, or its
    /// silo was declared dead; a kill waits until open sections are left (they must be short), so
    /// no such effect happens after the kill was answered. Dispose the result to leave the section.
    /// </summary>
    ValueTask<IDisposable> BeginEffectAsync();
}

/// <summary>The run that tried to report was killed or replaced; its reports change nothing.</summary>
public sealed class JobRunSupersededException(string jobId, long epoch)
    : Exception($"Run {epoch} of job {jobId} was superseded; its report was refused")
{
    public string JobId { get; } = jobId;

    public long Epoch { get; } = epoch;
}

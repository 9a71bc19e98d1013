using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Jobs.Files;

/// <summary>
/// Carries out file operations against the disk and their log, a batch at a time: decides each
/// operation from the disk (checksums, a taken name), marks the batch in progress while it copies
/// to flushed and verified temporary files in parallel, then performs every rename and delete inside
/// one effect section (a kill waits for it, a superseded run cannot enter it) and flushes the folders;
/// the outcomes go to the log with the next batch's marks. The steps of one operation are in
/// FileOpExecutor.Steps.cs; settling what a crash left in progress, and predicting a dry run, in
/// FileOpExecutor.Settle.cs.
/// </summary>
internal sealed partial class FileOpExecutor(string root, string jobTag, FileOperationStore log, IJobContext context)
{
    // Each run writes its own temporary files: a run that lingers on a silo declared dead never shares one with its successor.
    private readonly string _runTag = Guid.NewGuid().ToString("N")[..8];

    private readonly Dictionary<string, bool> _escapes = new(StringComparer.Ordinal);

    private readonly HashSet<string> _folders = new(StringComparer.Ordinal);

    public string JobTag => jobTag;

    /// <summary>Where the time spent writing the log is counted, if anywhere.</summary>
    public FileJobTimes? Spent { get; init; }

    private string Full(string relative) => Path.Combine(root, relative);

    /// <summary>
    /// Runs the batches in order and reports each one's operations done once their outcomes are in
    /// the log. A batch's outcomes are written with the next batch's in-progress marks, in one
    /// statement that runs while the next batch copies, so the log costs one write per batch and
    /// little waiting. <paramref name="logged"/> runs for each batch once its outcomes are logged.
    /// False when the run stopped before the last operation (a stop request, or a stop mid-batch).
    /// </summary>
    public async Task<bool> RunAsync(IEnumerable<FileOp[]> batches, Dictionary<string, long> counters, int parallelism,
        Func<FileOp[], Task>? logged, CancellationToken cancellationToken)
    {
        var whole = true;
        foreach (var batch in batches)
        {
            if (context.StopRequested.IsCancellationRequested)
            {
                whole = false;
                break;
            }

            var previous = await RunBatchAsync(batch, parallelism, cancellationToken);
            if (!await LoggedAsync(previous, counters, logged))
            {
                whole = false; // stopped mid-batch: the cursor stands before the first operation not done
                break;
            }
        }

        var last = _held;
        await LogAsync(last.Running, cancellationToken);
        _held = Held.None;
        return await LoggedAsync(last, counters, logged) && whole;
    }

    /// <summary>A batch run but whose outcomes are not logged yet: the batch, its operations this run carried out, and those that went in progress.</summary>
    private sealed record Held(FileOp[] Batch, List<FileOp> Ran, List<FileOp> Running)
    {
        public static readonly Held None = new([], [], []);
    }

    private Held _held = Held.None;

    /// <summary>
    /// Runs the planned operations of one batch (others are done already): decides each from the disk;
    /// logs them in progress (with the outcomes of the batch before) while it copies to temporary files in
    /// parallel, flushes the file system once and verifies the copies; then renames and deletes inside one
    /// effect section and flushes again. A graceful stop lets the copies under way finish; the others go
    /// back to planned. Returns the batch before, whose outcomes are now in the log.
    /// </summary>
    private async Task<Held> RunBatchAsync(FileOp[] batch, int parallelism, CancellationToken cancellationToken)
    {
        var previous = _held;
        var pending = batch.Where(o => o.Status == FileOpStatus.Planned).ToList();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken };
        // Checksums needed before anything happens (a move's, to settle it after a crash; a copy's only when its target exists).
        var sources = new Dictionary<long, byte[]?>();
        Parallel.ForEach(pending, parallel, op =>
        {
            var sha = NeedsSourceChecksum(op) ? TryHash(Full(op.Source), cancellationToken) : null;
            lock (sources)
            {
                sources[op.Seq] = sha;
            }
        });

        var claimed = new HashSet<string>(batch.Select(o => Full(o.Target)), StringComparer.Ordinal);
        var plans = new Dictionary<long, Step>();
        foreach (var op in pending)
        {
            plans[op.Seq] = Decide(op, sources[op.Seq], claimed, cancellationToken);
        }

        // The in-progress marks must be in the log before any rename; the copies only write temporary files, so they need not wait.
        var marked = LogAsync([.. previous.Running, .. pending], cancellationToken);
        var running = pending.Where(o => o.Status == FileOpStatus.InProgress).ToList();
        try
        {
            CopyAndVerify(running.Where(o => plans[o.Seq] == Step.CopyThenRename).ToList(), parallel, cancellationToken);
        }
        catch
        {
            await marked.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }

        await marked;
        _held = new Held(batch, pending, running);
        var changed = false;
        using (Spent?.Measure(FileJobTimes.Rename))
        using (await context.BeginEffectAsync())
        {
            foreach (var op in running.Where(o => o.Status == FileOpStatus.InProgress))
            {
                if (context.Aborted.IsCancellationRequested)
                {
                    break; // killed: not one more rename; what is left stays in progress, for the next run to settle
                }

                changed |= Apply(op, plans[op.Seq]);
            }
        }

        if (changed)
        {
            using (Spent?.Measure(FileJobTimes.Flush))
            {
                SafeFiles.SyncFileSystem(root); // the new names, and the removed ones, on disk before the log says completed
            }
        }

        return previous;
    }

    /// <summary>Copies to temporary files in parallel (a stop request lets the copies under way finish), flushes them all at once, and reads each back.</summary>
    private void CopyAndVerify(List<FileOp> copies, ParallelOptions parallel, CancellationToken cancellationToken)
    {
        if (copies.Count == 0)
        {
            return;
        }

        using (Spent?.Measure(FileJobTimes.Copy))
        {
            Parallel.ForEach(copies, parallel, op =>
            {
                if (context.StopRequested.IsCancellationRequested)
                {
                    op.Status = FileOpStatus.Planned;
                    return;
                }

                Copy(op, cancellationToken);
            });
        }

        // Every copy's data on disk before any of them gets its name; then each is read back.
        using (Spent?.Measure(FileJobTimes.Flush))
        {
            SafeFiles.SyncFileSystem(root);
        }

        using (Spent?.Measure(FileJobTimes.Verify))
        {
            Parallel.ForEach(copies.Where(o => o.Status == FileOpStatus.InProgress), parallel, op => Verify(op, cancellationToken));
        }
    }

    /// <summary>
    /// Counts a logged batch's outcomes and reports its operations done, in order, up to the first one a
    /// stop sent back to planned; false when there was one (the cursor may never pass an operation not done).
    /// </summary>
    private async Task<bool> LoggedAsync(Held held, Dictionary<string, long> counters, Func<FileOp[], Task>? logged)
    {
        foreach (var op in held.Ran)
        {
            Count(counters, op.Status);
            if (op.Status == FileOpStatus.Completed)
            {
                Count(counters, "bytes", op.Size ?? 0);
            }
        }

        if (held.Batch.Length == 0)
        {
            return true;
        }

        if (logged is not null)
        {
            await logged(held.Batch);
        }

        using (Spent?.Measure(FileJobTimes.Checkpoints))
        {
            foreach (var op in held.Batch)
            {
                if (op.Status is FileOpStatus.Planned or FileOpStatus.InProgress)
                {
                    return false;
                }

                await context.ItemDoneAsync(op.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), counters);
            }
        }

        return true;
    }

    private async Task LogAsync(IReadOnlyCollection<FileOp> ops, CancellationToken cancellationToken)
    {
        using (Spent?.Measure(FileJobTimes.Log))
        {
            await log.UpdateAsync(context.JobId, ops, cancellationToken);
        }
    }

    private static void Count(Dictionary<string, long> counters, string name, long by = 1) => counters[name] = counters.GetValueOrDefault(name) + by;
}

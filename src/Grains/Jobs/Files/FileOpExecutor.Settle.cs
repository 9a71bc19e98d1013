namespace OrleansJobs.Jobs.Files;

/// <summary>What the executor does besides running batches: predicting a dry run, and settling what a crash left in progress.</summary>
internal sealed partial class FileOpExecutor
{
    /// <summary>Dry run: notes what each planned operation would do; touches no file.</summary>
    public async Task PredictAsync(List<FileOp> ops, Dictionary<string, long> counters, CancellationToken cancellationToken)
    {
        foreach (var batch in ops.Where(o => o.Status == FileOpStatus.Planned).Chunk(256))
        {
            foreach (var op in batch)
            {
                var target = Full(op.Target);
                if (Escapes(target) || IsLink(target) || !File.Exists(target))
                {
                    continue; // nothing there to compare with (a link is never followed)
                }

                var same = await SameContentAsync(Full(op.Source), target, cancellationToken);
                op.Note = same ? "the target already holds the same content: would be skipped" : "the target name is taken by a different file: would be written under a suffixed name";
                Count(counters, same ? "wouldSkip" : "wouldRename");
            }

            await log.UpdateAsync(context.JobId, batch, cancellationToken);
            foreach (var op in batch)
            {
                await context.ItemDoneAsync(op.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), counters);
            }
        }

        context.Log(JobMessageLevel.Info, $"dry run: {ops.Count} operations planned, {counters.GetValueOrDefault("wouldSkip")} would be skipped, " +
            $"{counters.GetValueOrDefault("wouldRename")} would get a suffixed name; no file was touched");
    }

    /// <summary>Settles operations a crash or a kill left in progress, from what the disk shows.</summary>
    public async Task ReconcileAsync(List<FileOp> ops, Dictionary<string, long> counters, CancellationToken cancellationToken)
    {
        if (ops.Count == 0)
        {
            return;
        }

        foreach (var op in ops)
        {
            SafeFiles.RemoveTemps(Full(op.Target), jobTag, op.Seq);
            var (from, to) = Ends(op);
            // A copy's checksum is logged once it was copied; before that, the source's stands in (a copy leaves its source).
            var expected = op.Sha256 ?? (op.Operation == FileOps.Copy ? TryHash(from, cancellationToken) : null);
            var atTarget = expected is { } sha && File.Exists(to) && (await LibraryFiles.HashAsync(to, cancellationToken)).AsSpan().SequenceEqual(sha);
            var atSource = File.Exists(from);
            if (op.Operation == FileOps.UndoCopy)
            {
                op.Status = File.Exists(Full(op.Target)) ? FileOpStatus.Planned : FileOpStatus.Completed;
            }
            else if (op.Operation == FileOps.Copy)
            {
                op.Status = atTarget ? FileOpStatus.Completed : FileOpStatus.Planned;
            }
            else if (atTarget && atSource)
            {
                // Moved, but the old name is still there (the crash came between link and unlink): it goes now.
                if ((await LibraryFiles.HashAsync(from, cancellationToken)).AsSpan().SequenceEqual(op.Sha256))
                {
                    using (await context.BeginEffectAsync())
                    {
                        File.Delete(from);
                    }
                }

                op.Status = FileOpStatus.Completed;
            }
            else
            {
                op.Status = atTarget ? FileOpStatus.Completed : atSource ? FileOpStatus.Planned : FileOpStatus.Failed;
                op.Error = op.Status == FileOpStatus.Failed ? "neither the source nor the target is there any more" : null;
            }

            Count(counters, "reconciled");
        }

        await log.UpdateAsync(context.JobId, ops, cancellationToken);
        context.Log(JobMessageLevel.Info, $"reconciled {ops.Count} operations an earlier run left in progress");
    }

    private static async Task<bool> SameContentAsync(string a, string b, CancellationToken cancellationToken)
    {
        if (!File.Exists(a) || new FileInfo(a).Length != new FileInfo(b).Length)
        {
            return false;
        }

        var first = await LibraryFiles.HashAsync(a, cancellationToken);
        var second = await LibraryFiles.HashAsync(b, cancellationToken);
        return first.AsSpan().SequenceEqual(second);
    }
}

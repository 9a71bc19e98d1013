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

        await new FileOpSettler(root, jobTag, log).SettleAsync(context.JobId, ops, context.BeginEffectAsync, cancellationToken);
        Count(counters, "reconciled", ops.Count);
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

namespace OrleansJobs.Jobs.Files;

/// <summary>
/// Settles file operations a crash or a kill left in progress, from what the disk shows: an operation
/// whose target holds the expected content is completed (a move whose old name is still there loses
/// it); one whose source is still there goes back to planned (it was not carried out); one with
/// neither is failed. The job's temporary files of each operation are removed. Used by the run that
/// resumes the job, and by the library, holding its lock, for a job that ended (the state validator).
/// </summary>
internal sealed class FileOpSettler(string root, string jobTag, FileOperationStore log)
{
    /// <summary>
    /// Settles <paramref name="ops"/> and logs their new status; a deletion happens inside <paramref name="effect"/>
    /// (a run's effect section), or ungated when null (the caller alone works on the library).
    /// </summary>
    public async Task SettleAsync(string jobId, List<FileOp> ops, Func<ValueTask<IDisposable>>? effect, CancellationToken cancellationToken)
    {
        foreach (var op in ops)
        {
            var (from, to) = (Path.Combine(root, op.Source), Path.Combine(root, op.Target));
            SafeFiles.RemoveTemps(to, jobTag, op.Seq);
            // A copy's checksum is logged once it was copied; before that, the source's stands in (a copy leaves its source).
            var expected = op.Sha256 ?? (op.Operation == FileOps.Copy ? FileOpExecutor.TryHash(from, cancellationToken) : null);
            var atTarget = expected is { } sha && File.Exists(to) && (await LibraryFiles.HashAsync(to, cancellationToken)).AsSpan().SequenceEqual(sha);
            var atSource = File.Exists(from);
            if (op.Operation == FileOps.UndoCopy)
            {
                op.Status = File.Exists(to) ? FileOpStatus.Planned : FileOpStatus.Completed;
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
                    using (effect is null ? null : await effect())
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
        }

        await log.UpdateAsync(jobId, ops, cancellationToken);
    }
}

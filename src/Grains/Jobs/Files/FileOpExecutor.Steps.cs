using OrleansJobs.Libraries;

namespace OrleansJobs.Jobs.Files;

/// <summary>The steps of one operation: deciding it from the disk, copying, verifying, and the rename or delete that completes it.</summary>
internal sealed partial class FileOpExecutor
{
    private bool NeedsSourceChecksum(FileOp op) =>
        op.Operation is FileOps.Move or FileOps.UndoMove || op.Operation == FileOps.Copy && File.Exists(Full(op.Target));

    internal static byte[]? TryHash(string path, CancellationToken cancellationToken)
    {
        try
        {
            return File.Exists(path) ? LibraryFiles.Hash(path, cancellationToken) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private enum Step
    {
        None,
        CopyThenRename,
        Rename,
        DeleteSource,
        DeleteTarget,
    }

    /// <summary>Checks the operation against the disk: its checksum, its final target, and what to do; marks it in progress, skipped or failed.</summary>
    private Step Decide(FileOp op, byte[]? sourceSha, HashSet<string> claimed, CancellationToken cancellationToken)
    {
        var (from, to) = Ends(op);
        if (Escapes(from) || Escapes(to))
        {
            return Fail(op, "a symbolic link along the path leads out of the library");
        }

        if (IsLink(from) || IsLink(to))
        {
            return Fail(op, "the source or the target is a symbolic link: not followed");
        }

        if (op.Operation == FileOps.UndoCopy)
        {
            if (!File.Exists(to))
            {
                return Skip(op, "the copy is gone already");
            }

            return TryHash(to, cancellationToken) is { } current && current.AsSpan().SequenceEqual(op.Sha256)
                ? Start(op, Step.DeleteTarget)
                : Skip(op, "the copy was changed since: kept");
        }

        if (!File.Exists(from))
        {
            return Fail(op, "the source file is not there");
        }

        if (op.Operation == FileOps.UndoMove && op.Sha256 is { } recorded && (sourceSha is null || !sourceSha.AsSpan().SequenceEqual(recorded)))
        {
            return Skip(op, "the file was changed since it was moved: left where it is");
        }

        op.Sha256 = sourceSha; // a copy's is taken while it is copied
        op.Size = new FileInfo(from).Length;
        if (File.Exists(to))
        {
            if (sourceSha is not null && TryHash(to, cancellationToken) is { } existing && existing.AsSpan().SequenceEqual(sourceSha))
            {
                op.Note = "the target already holds the same content";
                return op.Operation == FileOps.Copy ? Skip(op, op.Note) : Start(op, Step.DeleteSource);
            }

            if (op.Operation == FileOps.UndoMove)
            {
                return Fail(op, "the original place is taken by a different file");
            }

            var free = SafeFiles.FreeName(to, claimed.Contains);
            claimed.Add(free);
            op.Note = $"the target name was taken by a different file: written as {Path.GetFileName(free)}";
            op.Target = Path.GetRelativePath(root, free);
            context.Log(JobMessageLevel.Warning, $"{op.Source}: {op.Note}");
        }

        return Start(op, op.Operation == FileOps.Copy ? Step.CopyThenRename : Step.Rename);
    }

    private void Copy(FileOp op, CancellationToken cancellationToken)
    {
        var temp = SafeFiles.TempPath(Full(op.Target), jobTag, op.Seq, _runTag);
        try
        {
            EnsureFolder(Path.GetDirectoryName(temp)!);
            var copied = SafeFiles.CopyToTemp(Full(op.Source), temp, cancellationToken);
            if (op.Sha256 is { } known && !copied.AsSpan().SequenceEqual(known))
            {
                File.Delete(temp);
                Fail(op, "the source changed while it was copied");
                return;
            }

            op.Sha256 = copied;
        }
        catch (OperationCanceledException)
        {
            File.Delete(temp); // killed mid-copy: no temporary file stays behind
            throw;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            File.Delete(temp);
            Fail(op, $"copy failed: {ex.Message}");
        }
    }

    /// <summary>Reads the flushed copy back: it must have the source's checksum.</summary>
    private void Verify(FileOp op, CancellationToken cancellationToken)
    {
        var temp = SafeFiles.TempPath(Full(op.Target), jobTag, op.Seq, _runTag);
        if (TryHash(temp, cancellationToken) is not { } written || !written.AsSpan().SequenceEqual(op.Sha256))
        {
            File.Delete(temp);
            Fail(op, "verification failed: the copy does not match the source's checksum");
        }
    }

    /// <summary>Performs the operation's rename or delete; true when a name changed on disk.</summary>
    private bool Apply(FileOp op, Step step)
    {
        var (from, to) = Ends(op);
        try
        {
            switch (step)
            {
                case Step.CopyThenRename:
                    var temp = SafeFiles.TempPath(to, jobTag, op.Seq, _runTag);
                    if (!SafeFiles.MoveNoReplace(temp, to))
                    {
                        File.Delete(temp);
                        Fail(op, "a file appeared at the target meanwhile: not overwritten");
                        return true;
                    }

                    break;
                case Step.Rename:
                    if (!SafeFiles.MoveNoReplace(from, to))
                    {
                        Fail(op, "a file appeared at the target meanwhile: not overwritten");
                        return false;
                    }

                    break;
                case Step.DeleteSource:
                    File.Delete(from);
                    break;
                case Step.DeleteTarget:
                    File.Delete(to);
                    break;
            }

            op.Status = FileOpStatus.Completed;
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Fail(op, $"{step} failed: {ex.Message}");
            return true;
        }
    }

    /// <summary>Creates a target folder once per run (many copies share one).</summary>
    private void EnsureFolder(string folder)
    {
        lock (_folders)
        {
            if (_folders.Contains(folder))
            {
                return;
            }
        }

        Directory.CreateDirectory(folder);
        lock (_folders)
        {
            _folders.Add(folder);
        }
    }

    /// <summary>Where the operation reads (from) and writes (to), as full paths.</summary>
    private (string From, string To) Ends(FileOp op) => (Full(op.Source), Full(op.Target));

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    /// <summary>Whether the folder of <paramref name="path"/> resolves outside the root (asked once per folder and run: many operations share one).</summary>
    private bool Escapes(string path)
    {
        var folder = Path.GetDirectoryName(path)!;
        lock (_escapes)
        {
            if (_escapes.TryGetValue(folder, out var known))
            {
                return known;
            }
        }

        var escapes = !LibraryPaths.IsWithin(LibraryPaths.Canonical(folder), root);
        lock (_escapes)
        {
            _escapes[folder] = escapes;
        }

        return escapes;
    }

    private static Step Start(FileOp op, Step step)
    {
        op.Status = FileOpStatus.InProgress;
        return step;
    }

    private static Step Skip(FileOp op, string note)
    {
        op.Status = FileOpStatus.Skipped;
        op.Note = note;
        return Step.None;
    }

    private static Step Fail(FileOp op, string error)
    {
        op.Status = FileOpStatus.Failed;
        op.Error = error;
        return Step.None;
    }
}

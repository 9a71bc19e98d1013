using System.Globalization;
using System.Text.Json;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Libraries;

namespace OrleansJobs.Jobs.Files;

/// <summary>
/// The <c>revert</c> job type: reverses the completed operations of a finished organize job of the
/// same library, newest first, with its own transaction log: a copy is removed if it still has the
/// content it was written with; a moved file goes back to its place (unless it changed, or its old
/// place is taken); a move whose target already held the same content gets its source back as a
/// copy. Each reversed operation is marked <c>rolled_back</c> in the organize job's log, so a
/// second revert finds nothing to do. Folders the organize job created and left empty are removed.
/// </summary>
public sealed class RevertJobHandler(IGrainFactory grains, FileOperationStore log) : IJobHandler, ISubmissionCheck
{
    public const string TypeName = "revert";

    public IReadOnlyList<JobParameterError> Validate(JsonElement parameters)
    {
        var errors = FileJobParameters.Members(parameters, TypeName, "job");
        if (errors.Count == 0)
        {
            FileJobParameters.Require(parameters, "job", errors);
            FileJobParameters.JobId(parameters, "job", errors);
        }

        return errors;
    }

    public async Task<IReadOnlyList<JobParameterError>> CheckAsync(JsonElement parameters, string? library, IGrainFactory cluster)
    {
        var job = await cluster.GetGrain<IJobGrain>(parameters.GetProperty("job").GetString()!).GetAsync();
        return Refusal(job, library) is { } why ? [new("parameters.job", why)] : [];
    }

    /// <summary>Why <paramref name="job"/> cannot be reverted by a job on <paramref name="library"/>; null when it can.</summary>
    private static string? Refusal(JobSnapshot? job, string? library) =>
        job is null || job.Type != OrganizeJobHandler.TypeName ? "must be the id of an organize job"
        : !JobTransitions.IsTerminal(job.Status) ? $"job {job.Id} is {job.Status}: only a finished organize job can be reverted (cancel it first)"
        : job.Library != library ? $"job {job.Id} organized library '{job.Library}', not '{library}'"
        : null;

    public async Task RunAsync(IJobContext context)
    {
        var organizeJob = context.Parameters.GetProperty("job").GetString()!;
        var libraryId = context.LibraryId ?? throw new InvalidOperationException("a revert job needs a library");
        var library = await grains.GetGrain<ILibraryGrain>(libraryId).GetDefinitionAsync()
            ?? throw new InvalidOperationException($"library '{libraryId}' does not exist");
        var cancellation = context.Aborted;
        var counters = new Dictionary<string, long>(context.Checkpoint.Counters, StringComparer.Ordinal);

        var ops = await log.LoadAsync(context.JobId, cancellation);
        if (ops.Count == 0 && context.Checkpoint.Cursor is null)
        {
            ops = await PlanAsync(organizeJob, libraryId, cancellation);
            await log.InsertPlanAsync(context.JobId, libraryId, ops, cancellation);
            counters["planned"] = ops.Count;
            context.Log(JobMessageLevel.Info, $"planned {ops.Count} operations to reverse job {organizeJob}");
        }

        context.Progress.SetTotal(ops.Count);
        var executor = new FileOpExecutor(library.Root, SafeFiles.JobTag(context.JobId), log, context);
        await executor.ReconcileAsync(ops.Where(o => o.Status == FileOpStatus.InProgress).ToList(), counters, cancellation);
        await MarkRevertedAsync(organizeJob, ops, cancellation);

        var done = context.Checkpoint.Cursor is { } cursor ? long.Parse(cursor, CultureInfo.InvariantCulture) : 0;
        var batches = OrganizeJobHandler.Batches(ops.Where(o => o.Seq > done));
        if (!await executor.RunAsync(batches, counters, Math.Max(2, Environment.ProcessorCount), batch => MarkRevertedAsync(organizeJob, batch, cancellation), cancellation))
        {
            return;
        }

        var removed = RemoveEmptyFolders(library.Root, ops);
        context.Log(JobMessageLevel.Info, $"reversed {counters.GetValueOrDefault(FileOpStatus.Completed)} operations of job {organizeJob}; " +
            $"{counters.GetValueOrDefault(FileOpStatus.Skipped)} skipped, {counters.GetValueOrDefault(FileOpStatus.Failed)} failed; {removed} empty folders removed");
    }

    private async Task<List<FileOp>> PlanAsync(string organizeJob, string libraryId, CancellationToken cancellationToken)
    {
        // Checked at submit too; the organize job may have been restarted since.
        if (Refusal(await grains.GetGrain<IJobGrain>(organizeJob).GetAsync(), libraryId) is { } why)
        {
            throw new InvalidOperationException(why);
        }

        var ops = new List<FileOp>();
        foreach (var done in (await log.LoadAsync(organizeJob, cancellationToken)).Where(o => o.Status == FileOpStatus.Completed).OrderByDescending(o => o.Seq))
        {
            var keptTarget = done.Operation == FileOps.Move && done.Note?.StartsWith("the target already holds", StringComparison.Ordinal) == true;
            var (operation, source, target) = (done.Operation, keptTarget) switch
            {
                (FileOps.Copy, _) => (FileOps.UndoCopy, done.Source, done.Target),
                (FileOps.Move, true) => (FileOps.Copy, done.Target, done.Source), // the target was there before: the source comes back as a copy
                _ => (FileOps.UndoMove, done.Target, done.Source),
            };
            ops.Add(new FileOp
            {
                Seq = ops.Count + 1, Operation = operation, Source = source, Target = target, Sha256 = done.Sha256, Size = done.Size,
                RevertsJob = organizeJob, RevertsSeq = done.Seq,
            });
        }

        return ops;
    }

    private Task MarkRevertedAsync(string organizeJob, IEnumerable<FileOp> ops, CancellationToken cancellationToken) =>
        log.MarkRolledBackAsync(organizeJob, ops
            .Where(o => o.RevertsSeq is not null && (o.Status == FileOpStatus.Completed || o.Status == FileOpStatus.Skipped && o.Note == "the copy is gone already"))
            .Select(o => o.RevertsSeq!.Value).ToList(), cancellationToken);

    /// <summary>Removes the folders the reversed operations wrote into, bottom up, while they are empty.</summary>
    private static int RemoveEmptyFolders(string root, List<FileOp> ops)
    {
        var removed = 0;
        var folders = ops.Where(o => o.Status == FileOpStatus.Completed && o.Operation is FileOps.UndoCopy or FileOps.UndoMove)
            .Select(o => Path.GetDirectoryName(Path.Combine(root, o.Operation == FileOps.UndoCopy ? o.Target : o.Source))!)
            .Distinct(StringComparer.Ordinal).OrderByDescending(f => f.Length).ToList();
        foreach (var start in folders)
        {
            for (var folder = start; LibraryPaths.IsWithin(folder, root) && folder != root; folder = Path.GetDirectoryName(folder)!)
            {
                if (!Directory.Exists(folder) || Directory.EnumerateFileSystemEntries(folder).Any())
                {
                    break;
                }

                Directory.Delete(folder);
                removed++;
            }
        }

        return removed;
    }
}

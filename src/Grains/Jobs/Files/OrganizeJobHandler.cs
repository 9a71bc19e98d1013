using System.Globalization;
using System.Text.Json;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Libraries;

namespace OrleansJobs.Jobs.Files;

/// <summary>
/// The <c>organize</c> job type: copies or moves a library's files into a target layout under a
/// target folder of the library, with a transaction log (<c>file_operations</c>). First the plan
/// (every operation <c>planned</c>, stored in one statement); then, a batch at a time, each
/// operation is marked <c>in_progress</c> with its checksum and final target, carried out, and
/// marked <c>completed</c>, <c>skipped</c> or <c>failed</c>. A copy goes to a temporary file that is
/// flushed and verified before a rename puts it in place; a move is a rename within the library, so
/// the file is never in two places or half written. A target with the same content is not written
/// again; a different file is never overwritten (a suffixed name, noted). A resumed run first
/// reconciles the operations left in progress with the disk and removes its stray temporary files.
/// <c>dryRun</c> stores the plan with what would happen and touches no file. The cursor is the last
/// operation done.
/// </summary>
public sealed class OrganizeJobHandler(IGrainFactory grains, FileOperationStore log) : IJobHandler
{
    public const string TypeName = "organize";

    /// <summary>Operations per batch: one log write before, one after, and two file system flushes between.</summary>
    public const int BatchSize = 256;

    /// <summary>... and at most this many bytes, so that a batch of large files still reports progress often.</summary>
    public const long BatchBytes = 256L << 20;

    /// <summary>The operations in batches of at most <see cref="BatchSize"/> operations and <see cref="BatchBytes"/> bytes (at least one each).</summary>
    public static IEnumerable<FileOp[]> Batches(IEnumerable<FileOp> ops)
    {
        var batch = new List<FileOp>();
        var bytes = 0L;
        foreach (var op in ops)
        {
            if (batch.Count > 0 && (batch.Count == BatchSize || bytes + (op.Size ?? 0) > BatchBytes))
            {
                yield return [.. batch];
                batch.Clear();
                bytes = 0;
            }

            batch.Add(op);
            bytes += op.Size ?? 0;
        }

        if (batch.Count > 0)
        {
            yield return [.. batch];
        }
    }

    private static readonly int CopyParallelism = Math.Max(2, Environment.ProcessorCount);

    public IReadOnlyList<JobParameterError> Validate(JsonElement parameters) => OrganizeParameters.Validate(parameters, out _);

    public async Task RunAsync(IJobContext context)
    {
        OrganizeParameters.Validate(context.Parameters, out var parameters);
        var libraryId = context.LibraryId ?? throw new InvalidOperationException("an organize job needs a library");
        var library = await grains.GetGrain<ILibraryGrain>(libraryId).GetDefinitionAsync()
            ?? throw new InvalidOperationException($"library '{libraryId}' does not exist");
        var cancellation = context.Aborted;
        var root = library.Root;
        var targetFolder = LibraryPaths.Resolve(root, parameters!.Target)
            ?? throw new InvalidOperationException($"target '{parameters.Target}' leads out of the library through a symbolic link");
        var counters = new Dictionary<string, long>(context.Checkpoint.Counters, StringComparer.Ordinal);
        var spent = new FileJobTimes(counters);

        var ops = await log.LoadAsync(context.JobId, cancellation);
        if (ops.Count == 0 && context.Checkpoint.Cursor is null)
        {
            using var planning = spent.Measure(FileJobTimes.Plan);
            var source = parameters.Source is null ? root : LibraryPaths.Resolve(root, parameters.Source)
                ?? throw new InvalidOperationException($"source '{parameters.Source}' leads out of the library through a symbolic link");
            var excluded = new[] { parameters.Target, library.Settings.ThumbnailFolder };
            var (files, notes) = await Task.Run(() => LibraryFiles.Walk(root, excluded, cancellation), cancellation);
            var relativeSource = Path.GetRelativePath(root, source);
            files = relativeSource == "." ? files : [.. files.Where(f => f.RelativePath.StartsWith(relativeSource + "/", StringComparison.Ordinal))];
            foreach (var note in notes)
            {
                context.Log(JobMessageLevel.Warning, $"{note.RelativePath}: {note.Text}");
            }

            ops = await Task.Run(() => OrganizePlan.Build(files, parameters.Mode, parameters.Target, parameters.Layout ?? library.Settings.Layout), cancellation);
            await log.InsertPlanAsync(context.JobId, libraryId, ops, cancellation);
            counters["planned"] = ops.Count;
            counters["plannedBytes"] = ops.Sum(o => o.Size ?? 0);
            context.Log(JobMessageLevel.Info, $"planned {ops.Count} {parameters.Mode} operations into {parameters.Target}");
        }

        context.Progress.SetTotal(ops.Count);
        var executor = new FileOpExecutor(root, SafeFiles.JobTag(context.JobId), log, context) { Spent = spent };
        if (parameters.DryRun)
        {
            await executor.PredictAsync(ops, counters, cancellation);
            return;
        }

        // What a crash or a kill left: operations in progress (reconciled with the disk), and temporary files.
        await executor.ReconcileAsync(ops.Where(o => o.Status == FileOpStatus.InProgress).ToList(), counters, cancellation);
        var strays = SafeFiles.RemoveJobTemps(targetFolder, executor.JobTag);
        if (strays > 0)
        {
            context.Log(JobMessageLevel.Info, $"removed {strays} temporary files an earlier run left");
        }

        var done = context.Checkpoint.Cursor is { } cursor ? long.Parse(cursor, CultureInfo.InvariantCulture) : 0;
        await executor.RunAsync(Batches(ops.Where(o => o.Seq > done)), counters, CopyParallelism, logged: null, cancellation);
    }
}

/// <summary>The parameters of an organize job.</summary>
public sealed record OrganizeParameters(string Target, string Mode, string? Layout, bool DryRun, string? Source)
{
    public const string Copy = "copy";
    public const string Move = "move";

    public static List<JobParameterError> Validate(JsonElement parameters, out OrganizeParameters? parsed)
    {
        parsed = null;
        var errors = FileJobParameters.Members(parameters, OrganizeJobHandler.TypeName, "target", "mode", "layout", "dryRun", "source");
        if (errors.Count > 0)
        {
            return errors;
        }

        FileJobParameters.Require(parameters, "target", errors);
        var target = FileJobParameters.RelativePath(parameters, "target", errors);
        var mode = FileJobParameters.Text(parameters, "mode", errors, Copy, Move) ?? Copy;
        var layout = FileJobParameters.Text(parameters, "layout", errors);
        if (layout is not null && LibraryRules.LayoutError(layout) is { } layoutError)
        {
            errors.Add(new("parameters.layout", layoutError));
        }

        var dryRun = FileJobParameters.Boolean(parameters, "dryRun", errors) ?? false;
        var source = FileJobParameters.RelativePath(parameters, "source", errors);
        if (target is not null && source is not null && (target == source || target.StartsWith(source + "/", StringComparison.Ordinal) is false && source.StartsWith(target + "/", StringComparison.Ordinal)))
        {
            errors.Add(new("parameters.source", "must not be the target folder or lie inside it"));
        }

        if (errors.Count == 0)
        {
            parsed = new OrganizeParameters(target!, mode, layout, dryRun, source);
        }

        return errors;
    }
}

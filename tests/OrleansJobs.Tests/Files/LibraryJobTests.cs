using OrleansJobs.Jobs;
using OrleansJobs.Libraries;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Files;

/// <summary>
/// Libraries and the file job types on a real two-silo cluster, database and disk: each test works
/// on a generated tree of real files and asserts on the files and the rows, not only on statuses.
/// </summary>
[Collection(AdoNetClusterCollection.Name)]
public sealed class LibraryJobTests(AdoNetClusterFixture fixture) : IDisposable
{
    private readonly List<LibraryTree> _trees = [];

    private IGrainFactory Grains => fixture.Cluster.Client;

    private TestDatabase Database => fixture.Database;

    [Fact]
    public async Task Create_RefusesRootsOutsideTheBase_ThroughALink_OrOverlapping_NamingRoot()
    {
        var (id, tree) = await NewLibraryAsync(files: 3, photos: 0);
        var escape = Path.Combine(fixture.LibrariesBase, $"escape-{Guid.NewGuid():N}");
        Directory.CreateSymbolicLink(escape, fixture.Outside);

        foreach (var root in new[] { fixture.Outside, escape, fixture.LibrariesBase + "/../" + Path.GetFileName(fixture.Outside), Path.Combine(tree.Root, "inbox"), "relative/path" })
        {
            var result = await Grains.GetGrain<ILibraryGrain>($"bad-{Guid.NewGuid():N}"[..20]).CreateAsync(new LibraryDefinition("x", root, new()), "test");
            Assert.Equal(LibraryOutcome.Invalid, result.Outcome);
            Assert.Contains(result.Errors, e => e.Field == "root");
        }

        // The same definition again is the same library; a different one under the same id is refused.
        var again = await Grains.GetGrain<ILibraryGrain>(id).CreateAsync(new LibraryDefinition("photos", tree.Root, new()), "test");
        Assert.Equal(LibraryOutcome.Existing, again.Outcome);
        var other = await Grains.GetGrain<ILibraryGrain>(id).CreateAsync(new LibraryDefinition("other name", tree.Root, new()), "test");
        Assert.Equal(LibraryOutcome.Conflict, other.Outcome);
        Assert.Equal(1, await Database.ScalarAsync<int>("SELECT count(*)::int FROM libraries WHERE library_id = @id", ("id", id)));
    }

    [Fact]
    public async Task Analyze_CatalogsEveryFile_ChangesNothing_SkipsUnchangedFiles_AndMarksRemovedOnes()
    {
        var (id, tree) = await NewLibraryAsync(files: 250, photos: 5);
        var before = LibraryTree.Snapshot(tree.Root);

        var first = await RunAsync("analyze", "{}", id);

        Assert.Equal(JobStatus.Completed, first.Status);
        Assert.Equal(before, LibraryTree.Snapshot(tree.Root)); // read-only: no byte, name or time changed
        var catalog = await CatalogAsync(id);
        var files = before.Where(LibraryTree.IsFile).ToList();
        Assert.Equal(files.Select(f => f.Key), catalog.Keys);
        Assert.All(files, f => Assert.Equal(f.Value.Split(' ')[2], catalog[f.Key]));
        Assert.Contains(first.Messages, m => m.Text.Contains("dangling-link.txt", StringComparison.Ordinal));
        Assert.Contains(first.Messages, m => m.Text.Contains("pipe.txt: not a regular file", StringComparison.Ordinal));
        Assert.Equal(255, first.Checkpoint.Counters["hashed"]);
        // Duplicates share a checksum.
        Assert.Contains(catalog.Values.GroupBy(v => v), g => g.Count() > 1);

        File.Delete(Path.Combine(tree.Root, "inbox/0/0/file-00000.txt"));
        tree.Write("inbox/new.txt", "new"u8.ToArray());
        var second = await RunAsync("analyze", "{}", id);

        Assert.Equal(1, second.Checkpoint.Counters["hashed"]);
        Assert.Equal(254, second.Checkpoint.Counters["unchanged"]);
        Assert.Equal(1, second.Checkpoint.Counters["removed"]);
        Assert.Equal(1, await Database.ScalarAsync<int>(
            "SELECT count(*)::int FROM library_catalog WHERE library_id = @id AND removed_at IS NOT NULL AND relative_path = 'inbox/0/0/file-00000.txt'", ("id", id)));
    }

    [Fact]
    public async Task Organize_DryRunTouchesNothing_CopyPutsEveryFileInItsDatedPlace_AndRevertRestoresTheTree()
    {
        var (id, tree) = await NewLibraryAsync(files: 60, photos: 8);
        var original = LibraryTree.Snapshot(tree.Root);

        var dry = await RunAsync("organize", """{"target": "organized", "dryRun": true}""", id);
        Assert.Equal(JobStatus.Completed, dry.Status);
        Assert.Equal(original, LibraryTree.Snapshot(tree.Root));
        Assert.Equal(68, await OperationsAsync(dry.Id, "planned"));

        var copy = await RunAsync("organize", """{"target": "organized", "mode": "copy"}""", id);
        Assert.Equal(JobStatus.Completed, copy.Status);
        Assert.Equal(68, await OperationsAsync(copy.Id, "completed"));
        var after = LibraryTree.Snapshot(tree.Root);
        foreach (var (path, facts) in original.Where(LibraryTree.IsFile))
        {
            Assert.Equal(facts, after[path]); // the sources are untouched
        }

        // Photos go by their capture date, other files by their modification time; every copy is byte-identical.
        Assert.True(after.ContainsKey("organized/2019/01/IMG_0000.jpg"));
        Assert.True(after.ContainsKey("organized/2020/01/file-00000.txt"));
        Assert.Equal(original["camera/IMG_0003.jpg"].Split(' ')[2], after["organized/2019/04/IMG_0003.jpg"].Split(' ')[2]);
        Assert.DoesNotContain(after.Keys, k => k.EndsWith(".orleansjobs-tmp", StringComparison.Ordinal));

        var again = await RunAsync("organize", """{"target": "organized", "mode": "copy"}""", id);
        Assert.Equal(68, await OperationsAsync(again.Id, "skipped")); // the same content is there already

        var revert = await RunAsync("revert", $$"""{"job": "{{copy.Id}}"}""", id);
        Assert.Equal(JobStatus.Completed, revert.Status);
        Assert.Equal(original, LibraryTree.Snapshot(tree.Root));
        Assert.Equal(68, await OperationsAsync(copy.Id, "rolled_back"));
    }

    [Fact]
    public async Task OrganizeMove_ThenRevert_RestoresTheExactTree_AndAFileInTheWayIsNeverOverwritten()
    {
        var (id, tree) = await NewLibraryAsync(files: 40, photos: 4);
        // A different file already sits where one photo would go.
        tree.Write("organized/2019/01/IMG_0000.jpg", "someone else's file"u8.ToArray());
        var original = LibraryTree.Snapshot(tree.Root);

        var move = await RunAsync("organize", """{"target": "organized", "mode": "move"}""", id);

        Assert.Equal(JobStatus.Completed, move.Status);
        var moved = LibraryTree.Snapshot(tree.Root);
        Assert.Equal(original["organized/2019/01/IMG_0000.jpg"], moved["organized/2019/01/IMG_0000.jpg"]);
        Assert.Equal(original["camera/IMG_0000.jpg"].Split(' ')[2], moved["organized/2019/01/IMG_0000 (1).jpg"].Split(' ')[2]);
        Assert.DoesNotContain(moved.Keys, k => k.StartsWith("camera/IMG", StringComparison.Ordinal) || k.StartsWith("inbox/0/", StringComparison.Ordinal) && !k.EndsWith('/'));
        Assert.Equal(1, await Database.ScalarAsync<int>(
            "SELECT count(*)::int FROM file_operations WHERE job_id = @id AND note LIKE 'the target name was taken%'", ("id", move.Id)));

        var revert = await RunAsync("revert", $$"""{"job": "{{move.Id}}"}""", id);

        Assert.Equal(JobStatus.Completed, revert.Status);
        Assert.Equal(original, LibraryTree.Snapshot(tree.Root));
    }

    [Fact]
    public async Task Thumbnails_EveryImageGetsOneThatDecodes_AndARerunSkipsThem()
    {
        var (id, tree) = await NewLibraryAsync(files: 5, photos: 6);
        tree.Write("camera/broken.jpg", "not a jpeg"u8.ToArray());

        var first = await RunAsync("thumbnails", "{}", id);

        Assert.Equal(JobStatus.Completed, first.Status);
        Assert.Equal(6, first.Checkpoint.Counters["written"]);
        Assert.Equal(1, first.Checkpoint.Counters["unreadable"]);
        foreach (var photo in Directory.GetFiles(Path.Combine(tree.Root, "camera"), "IMG_*.jpg"))
        {
            var thumbnail = Path.Combine(tree.Root, ".thumbnails/camera", Path.GetFileName(photo) + ".jpg");
            using var decoded = SkiaSharp.SKBitmap.Decode(thumbnail);
            Assert.NotNull(decoded);
            Assert.Equal(64, Math.Max(decoded.Width, decoded.Height)); // never enlarged
        }

        var second = await RunAsync("thumbnails", "{}", id);
        Assert.Equal(6, second.Checkpoint.Counters["existing"]);
    }

    [Fact]
    public async Task JobsOnOneLibrary_TakeTurns_OthersRunAlongside_AndALockWaitRunsOut()
    {
        var (first, _) = await NewLibraryAsync(files: 1, photos: 0);
        var (second, _) = await NewLibraryAsync(files: 1, photos: 0);
        var slow = """{"items": 20, "itemMs": 50}""";
        var a = await SubmitAsync("synthetic", slow, first);
        var b = await SubmitAsync("synthetic", slow, first);
        var c = await SubmitAsync("synthetic", slow, second);
        var timedOut = await SubmitAsync("synthetic", slow, first, lockWaitSeconds: 0);

        var waiting = await Wait.ForAsync("b to wait for the lock", () => Grains.GetGrain<IJobGrain>(b).GetAsync(), j => j!.QueuedReason is not null);
        Assert.Equal(JobStatus.Queued, waiting!.Status);
        Assert.Contains($"library '{first}': locked by job {a}", waiting.QueuedReason, StringComparison.Ordinal);
        var failed = await WaitForAsync(timedOut, JobStatus.Failed);
        Assert.Contains($"library '{first}' was not free within 0 s", failed.Error, StringComparison.Ordinal);

        var done = await Task.WhenAll(new[] { a, b, c }.Select(j => WaitForAsync(j, JobStatus.Completed)));
        // One at a time on one library; the other library's job ran alongside the first.
        Assert.True(done[1].StartedAt >= done[0].FinishedAt, "two jobs held one library at once");
        Assert.True(done[2].StartedAt < done[0].FinishedAt, "a job on another library waited");
        var library = await Grains.GetGrain<ILibraryGrain>(first).GetAsync();
        Assert.Null(library!.LockHolder);
        Assert.Empty(library.Waiting);
    }

    [Fact]
    public async Task Delete_IsRefusedWhileAJobHoldsTheLock_ForceCancelsItFirst_AndTheCatalogGoes()
    {
        var (id, _) = await NewLibraryAsync(files: 3, photos: 0);
        await RunAsync("analyze", "{}", id);
        var holder = await SubmitAsync("synthetic", """{"items": 2000, "itemMs": 10}""", id);
        var waiter = await SubmitAsync("synthetic", """{"items": 5}""", id);
        await WaitForAsync(holder, JobStatus.Running);

        var refused = await Grains.GetGrain<ILibraryGrain>(id).DeleteAsync(force: false, "test");
        Assert.Equal(LibraryDeleteOutcome.InUse, refused.Outcome);
        Assert.Equal([holder], refused.Holders);
        Assert.Equal([waiter], refused.Waiting);

        var forced = await Grains.GetGrain<ILibraryGrain>(id).DeleteAsync(force: true, "test");

        Assert.Equal(LibraryDeleteOutcome.Deleted, forced.Outcome);
        Assert.Equal(JobStatus.Cancelled, (await Grains.GetGrain<IJobGrain>(holder).GetAsync())!.Status);
        Assert.Equal(JobStatus.Cancelled, (await Grains.GetGrain<IJobGrain>(waiter).GetAsync())!.Status);
        Assert.Null(await Grains.GetGrain<ILibraryGrain>(id).GetAsync());
        Assert.Equal(0, await Database.ScalarAsync<int>("SELECT count(*)::int FROM library_catalog WHERE library_id = @id", ("id", id)));
        var late = await Grains.GetGrain<IJobGrain>(Guid.NewGuid().ToString()).SubmitAsync(Submission("analyze", "{}", id));
        Assert.Equal(JobSubmitOutcome.Invalid, late.Outcome);
        Assert.Contains(late.Errors, e => e.Field == "library");
    }

    [Fact]
    public async Task KillMidOrganize_NoFileChangesAfterTheKill_AndARestartFinishesWithEveryFileInExactlyOnePlace()
    {
        var (id, tree) = await NewLibraryAsync(files: 1500, photos: 0);
        var original = LibraryTree.Snapshot(tree.Root).Where(LibraryTree.IsFile)
            .ToDictionary(e => e.Key, e => e.Value.Split(' ')[2]);
        var job = await SubmitAsync("organize", """{"target": "organized", "mode": "move"}""", id);
        var grain = Grains.GetGrain<IJobGrain>(job);
        await Wait.ForAsync("organize to move some files", () => grain.GetAsync(), j => j!.Progress.Processed >= 100);

        var killed = await grain.ControlAsync(new JobControl(JobAction.Kill, "test", "mid-run", false));
        Assert.Equal(JobStatus.Killed, killed.Job!.Status);
        var atKill = LibraryTree.Snapshot(tree.Root);
        var logAtKill = await Database.ScalarAsync<string>("SELECT string_agg(op_seq || status, ',' ORDER BY op_seq) FROM file_operations WHERE job_id = @id", ("id", job));
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(atKill, LibraryTree.Snapshot(tree.Root)); // the killed run changed nothing after the kill was answered
        Assert.Equal(logAtKill, await Database.ScalarAsync<string>("SELECT string_agg(op_seq || status, ',' ORDER BY op_seq) FROM file_operations WHERE job_id = @id", ("id", job)));

        await grain.ControlAsync(new JobControl(JobAction.Restart, "test", null, true));
        var done = await WaitForAsync(job, JobStatus.Completed, TimeSpan.FromSeconds(120));

        Assert.Equal(1500, await OperationsAsync(job, "completed"));
        var final = LibraryTree.Snapshot(tree.Root);
        Assert.DoesNotContain(final, e => e.Key.EndsWith(".orleansjobs-tmp", StringComparison.Ordinal) || e.Value.StartsWith("0 ", StringComparison.Ordinal));
        var placed = await Database.QueryAsync("SELECT source_path, target_path FROM file_operations WHERE job_id = @id", r => (r.GetString(0), r.GetString(1)), ("id", job));
        foreach (var (source, target) in placed)
        {
            Assert.False(final.ContainsKey(source), $"{source} is still at its source");
            Assert.Equal(original[source], final[target].Split(' ')[2]);
        }

        Assert.True(done.Progress.Processed >= 1500);
    }

    [Fact]
    public async Task AKilledHolder_GivesTheLockToTheNextJobAtOnce()
    {
        var (id, _) = await NewLibraryAsync(files: 1, photos: 0);
        var holder = await SubmitAsync("synthetic", """{"items": 100000, "itemMs": 10}""", id);
        await WaitForAsync(holder, JobStatus.Running);
        var next = await SubmitAsync("synthetic", """{"items": 3}""", id);
        await Wait.ForAsync("the next job to wait for the lock", () => Grains.GetGrain<IJobGrain>(next).GetAsync(), j => j!.QueuedReason is not null);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Grains.GetGrain<IJobGrain>(holder).ControlAsync(new JobControl(JobAction.Kill, "test", "stuck", false));
        var done = await WaitForAsync(next, JobStatus.Completed);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the next job got the lock {clock.Elapsed.TotalSeconds:0.0} s after the kill");
        Assert.True(done.StartedAt >= (await Grains.GetGrain<IJobGrain>(holder).GetAsync())!.FinishedAt);
    }

    [Fact]
    public async Task CancelMidOrganize_LeavesNoOperationInProgress_AndTheLogMatchesTheDisk()
    {
        var (id, tree) = await NewLibraryAsync(files: 3000, photos: 0);
        var job = await SubmitAsync("organize", """{"target": "organized", "mode": "move"}""", id);
        var grain = Grains.GetGrain<IJobGrain>(job);
        await Wait.ForAsync("organize to move some files", () => grain.GetAsync(), j => j!.Progress.Processed >= 256);

        await grain.ControlAsync(new JobControl(JobAction.Cancel, "test", null, false));
        await WaitForAsync(job, JobStatus.Cancelled);

        var log = await Database.QueryAsync("SELECT source_path, target_path, status FROM file_operations WHERE job_id = @id",
            r => (Source: r.GetString(0), Target: r.GetString(1), Status: r.GetString(2)), ("id", job));
        Assert.DoesNotContain(log, op => op.Status == "in_progress");
        Assert.Contains(log, op => op.Status == "planned"); // it stopped before the end
        foreach (var op in log)
        {
            var moved = op.Status == "completed";
            Assert.Equal(moved, File.Exists(Path.Combine(tree.Root, op.Target)));
            Assert.Equal(!moved, File.Exists(Path.Combine(tree.Root, op.Source)));
        }
    }

    [Fact]
    public async Task PauseMidOrganize_ThenResume_CompletesEveryOperation_NoneSkipped()
    {
        var (id, tree) = await NewLibraryAsync(files: 3000, photos: 0);
        var job = await SubmitAsync("organize", """{"target": "organized", "mode": "copy"}""", id);
        var grain = Grains.GetGrain<IJobGrain>(job);
        await Wait.ForAsync("organize to copy some files", () => grain.GetAsync(), j => j!.Progress.Processed >= 100);

        await grain.ControlAsync(new JobControl(JobAction.Pause, "test", null, false));
        await WaitForAsync(job, JobStatus.Paused);
        await grain.ControlAsync(new JobControl(JobAction.Resume, "test", null, true));
        await WaitForAsync(job, JobStatus.Completed);

        Assert.Equal(3000, await OperationsAsync(job, "completed"));
        Assert.Equal(3000, Directory.EnumerateFiles(Path.Combine(tree.Root, "organized"), "*", SearchOption.AllDirectories).Count());
    }

    private async Task<(string Id, LibraryTree Tree)> NewLibraryAsync(int files, int photos)
    {
        var id = $"lib-{Guid.NewGuid():N}"[..20];
        var tree = LibraryTree.Generate(fixture.LibrariesBase, id, files, photos, fixture.Outside);
        _trees.Add(tree);
        var created = await Grains.GetGrain<ILibraryGrain>(id).CreateAsync(new LibraryDefinition("photos", tree.Root, new()), "test");
        Assert.Equal(LibraryOutcome.Created, created.Outcome);
        return (id, tree);
    }

    private static JobSubmission Submission(string type, string parameters, string library, int? lockWaitSeconds = null) =>
        new(type, parameters, 0, 1, null, null, null, "test", null, library, lockWaitSeconds);

    private async Task<string> SubmitAsync(string type, string parameters, string library, int? lockWaitSeconds = null)
    {
        var id = Guid.NewGuid().ToString();
        var result = await Grains.GetGrain<IJobGrain>(id).SubmitAsync(Submission(type, parameters, library, lockWaitSeconds));
        Assert.True(result.Outcome == JobSubmitOutcome.Created, string.Join("; ", result.Errors.Select(e => $"{e.Field}: {e.Message}")));
        return id;
    }

    private async Task<JobSnapshot> RunAsync(string type, string parameters, string library) =>
        await WaitForAsync(await SubmitAsync(type, parameters, library), JobStatus.Completed, TimeSpan.FromSeconds(60));

    private async Task<JobSnapshot> WaitForAsync(string id, JobStatus status, TimeSpan? timeout = null) =>
        (await Wait.ForAsync($"job {id} to be {status}", () => Grains.GetGrain<IJobGrain>(id).GetAsync(),
            j => j!.Status == status || (JobTransitions.IsTerminal(j.Status) && j.Status != status), timeout ?? TimeSpan.FromSeconds(60)))! is var job
            && job.Status == status ? job : throw new Xunit.Sdk.XunitException($"job {id} ended {job.Status} ({job.Error}), not {status}");

    private async Task<Dictionary<string, string>> CatalogAsync(string library) =>
        (await Database.QueryAsync("SELECT relative_path, encode(sha256, 'hex') FROM library_catalog WHERE library_id = @id AND removed_at IS NULL ORDER BY relative_path",
            r => (r.GetString(0), r.GetString(1)), ("id", library))).ToDictionary(r => r.Item1, r => r.Item2, StringComparer.Ordinal);

    private Task<int> OperationsAsync(string job, string status) =>
        Database.ScalarAsync<int>("SELECT count(*)::int FROM file_operations WHERE job_id = @id AND status = @status", ("id", job), ("status", status));

    public void Dispose()
    {
        foreach (var tree in _trees)
        {
            tree.Dispose();
        }
    }
}

using System.Diagnostics;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Runs;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Jobs;

/// <summary>
/// The job grain on a real two-silo cluster and database, driving the synthetic handler: each
/// test asserts on effects (effect and execution rows, journal, index), not only on statuses.
/// </summary>
[Collection(AdoNetClusterCollection.Name)]
public sealed class JobGrainTests(AdoNetClusterFixture fixture)
{
    private TestDatabase Database => fixture.Database;

    [Fact]
    public async Task Submit_RunsTheJobToCompletion_ApplyingEachItemOnce_AndJournalsIt()
    {
        var (id, grain) = NewJob();

        var result = await grain.SubmitAsync(Synthetic("""{"items": 25}"""));

        Assert.Equal(JobSubmitOutcome.Created, result.Outcome);
        var done = await WaitForStatusAsync(grain, JobStatus.Completed);
        Assert.Equal(25, done.Progress.Processed);
        Assert.Equal(1.0, done.Progress.Fraction);
        Assert.Equal(1, done.Attempt);
        Assert.NotNull(done.FinishedAt);
        Assert.Equal(25, await EffectsAsync(id));
        Assert.Equal(0, await RedoneAsync(id));
        await Wait.UntilAsync($"journal and index of {id}", async () =>
            await Database.ScalarAsync<string>("SELECT status FROM job_index WHERE job_id = @id", ("id", id)) == "Completed"
            && await JournalAsync(id) is { Count: >= 3 });
        Assert.Equal(
            ["submitted:-Queued", "state_change:Queued-Running", "state_change:Running-Completed"],
            (await JournalAsync(id)).Take(3));
    }

    [Fact]
    public async Task Submit_TheSameRequestTwiceAtOnce_CreatesOneJob()
    {
        var (id, grain) = NewJob();

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => grain.SubmitAsync(Synthetic("""{"items": 3}"""))));

        Assert.Equal(1, results.Count(r => r.Outcome == JobSubmitOutcome.Created));
        Assert.Equal(9, results.Count(r => r.Outcome == JobSubmitOutcome.Existing));
        Assert.All(results, r => Assert.Equal(id, r.Job!.Id));
        await WaitForStatusAsync(grain, JobStatus.Completed);
        Assert.Equal(3, await EffectsAsync(id));
        Assert.Equal(0, await RedoneAsync(id));
    }

    [Fact]
    public async Task Submit_ADifferentRequestUnderAUsedId_IsAConflictAndChangesNothing()
    {
        var (_, grain) = NewJob();
        await grain.SubmitAsync(Synthetic("""{"items": 2}"""));

        var second = await grain.SubmitAsync(Synthetic("""{"items": 3}"""));

        Assert.Equal(JobSubmitOutcome.KeyConflict, second.Outcome);
        var job = await WaitForStatusAsync(grain, JobStatus.Completed);
        Assert.Contains("\"items\": 2", job.ParametersJson, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no-such-type", """{"items": 1}""", "type")]
    [InlineData("synthetic", """{"items": -4}""", "parameters.items")]
    [InlineData("synthetic", """{"items": 4, "speed": 9}""", "parameters.speed")]
    [InlineData("synthetic", """{"items": 4""", "parameters")]
    public async Task Submit_InvalidRequests_NameTheFieldAndCreateNothing(string type, string parameters, string field)
    {
        var (id, grain) = NewJob();

        var result = await grain.SubmitAsync(Synthetic(parameters) with { Type = type });

        Assert.Equal(JobSubmitOutcome.Invalid, result.Outcome);
        Assert.Contains(result.Errors, e => e.Field == field);
        Assert.Null(await grain.GetAsync());
        Assert.Equal(0, await Database.ScalarAsync<int>("SELECT count(*) FROM job_journal WHERE job_id = @id", ("id", id)));
    }

    [Fact]
    public async Task Get_WhileAnItemRuns_AnswersAtOnce()
    {
        var (_, grain) = NewJob();
        await grain.SubmitAsync(Synthetic("""{"items": 3, "itemMs": 10000}"""));

        var clock = Stopwatch.StartNew();
        var job = await grain.GetAsync();

        Assert.Equal(JobStatus.Running, job!.Status);
        // Waiting for the item would take 10 s; the bound leaves room for a loaded machine.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"status took {clock.ElapsedMilliseconds} ms while an item ran");
        await grain.ControlAsync(Control(JobAction.Kill));
    }

    [Fact]
    public async Task Cancel_WhileAnItemRuns_FinishesTheItemSavesTheCheckpointAndStops()
    {
        var (id, grain) = NewJob();
        await grain.SubmitAsync(Synthetic("""{"items": 200, "itemMs": 50}"""));
        await WaitForProcessedAsync(grain, 3);

        var cancel = await grain.ControlAsync(Control(JobAction.Cancel));
        var again = await grain.ControlAsync(Control(JobAction.Cancel));

        Assert.Equal(JobActionKind.Transition, cancel.Kind);
        Assert.Equal(JobStatus.Cancelling, cancel.Job!.Status);
        Assert.Equal(JobActionKind.AlreadyDone, again.Kind);
        var cancelled = await WaitForStatusAsync(grain, JobStatus.Cancelled);
        var effects = await EffectsAsync(id);
        Assert.InRange(effects, 3, 199);
        // No item was abandoned half-way: every applied item is in the saved checkpoint.
        Assert.Equal(effects, cancelled.Checkpoint.Processed);
        Assert.Equal(effects.ToString(System.Globalization.CultureInfo.InvariantCulture), cancelled.Checkpoint.Cursor);
        Assert.Equal(JobActionKind.AlreadyDone, (await grain.ControlAsync(Control(JobAction.Cancel))).Kind);
        Assert.Equal(JobActionKind.Conflict, (await grain.ControlAsync(Control(JobAction.Pause))).Kind);
    }

    [Fact]
    public async Task Kill_StopsAtOnce_AndALateReportOfTheKilledRunIsRefused()
    {
        var (id, grain) = NewJob();
        await grain.SubmitAsync(Synthetic("""{"items": 200, "itemMs": 50, "record": true}"""));
        await WaitForProcessedAsync(grain, 2);

        var kill = await grain.ControlAsync(Control(JobAction.Kill));

        Assert.Equal(JobStatus.Killed, kill.Job!.Status);
        Assert.NotNull(kill.Job.FinishedAt);
        var effectsAtKill = await EffectsAsync(id);
        // The killed run (epoch 1) reports late: refused, and the stored checkpoint is untouched.
        var before = (await grain.GetAsync())!;
        var run = fixture.Cluster.Client.GetGrain<IJobRunReports>(id);
        Assert.False(await run.CheckpointAsync(1, new JobCheckpoint("199", 199, new Dictionary<string, long>()), JobProgress.None, []));
        var after = (await grain.GetAsync())!;
        Assert.Equal((before.Checkpoint.Cursor, before.Checkpoint.Processed), (after.Checkpoint.Cursor, after.Checkpoint.Processed));
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(JobStatus.Killed, after.Status);
        // At most the item in flight when the kill landed can still have been applied.
        Assert.InRange(await EffectsAsync(id), effectsAtKill, effectsAtKill + 1);
        Assert.Equal(JobActionKind.AlreadyDone, (await grain.ControlAsync(Control(JobAction.Kill))).Kind);
    }

    [Fact]
    public async Task PauseThenResume_ProcessesEveryItemExactlyOnce()
    {
        var (id, grain) = NewJob();
        await grain.SubmitAsync(Synthetic("""{"items": 40, "itemMs": 20}"""));
        await WaitForProcessedAsync(grain, 5);

        var pause = await grain.ControlAsync(Control(JobAction.Pause));
        Assert.Equal(JobStatus.Pausing, pause.Job!.Status);
        var paused = await WaitForStatusAsync(grain, JobStatus.Paused);
        Assert.Equal(await EffectsAsync(id), paused.Checkpoint.Processed);

        var resume = await grain.ControlAsync(Control(JobAction.Resume));

        Assert.Equal(JobActionKind.Transition, resume.Kind);
        var done = await WaitForStatusAsync(grain, JobStatus.Completed);
        Assert.Equal(40, done.Progress.Processed);
        Assert.Equal(40, await EffectsAsync(id));
        Assert.Equal(0, await RedoneAsync(id));
        Assert.Equal(1, done.Attempt);
    }

    [Fact]
    public async Task Pause_WhileAnItemRuns_IsPausingUntilTheItemEnds_ThenPausedAndStill()
    {
        var (id, grain) = NewJob();
        await grain.SubmitAsync(Synthetic("""{"items": 40, "itemMs": 400}"""));
        await WaitForProcessedAsync(grain, 1);

        var pause = await grain.ControlAsync(Control(JobAction.Pause));

        // The item in flight still runs: the job says so instead of claiming to be paused.
        Assert.Equal(JobStatus.Pausing, pause.Job!.Status);
        Assert.Equal(JobActionKind.AlreadyDone, (await grain.ControlAsync(Control(JobAction.Pause))).Kind);
        var paused = await WaitForStatusAsync(grain, JobStatus.Paused);
        Assert.Equal(await EffectsAsync(id), paused.Checkpoint.Processed);
        // The journal is a projection: it follows the stored state.
        await Wait.UntilAsync("the journal to show the saved checkpoint", async () => (await JournalAsync(id)).Contains("checkpoint_saved:-"));
        // Once Paused, nothing moves: a read after more than one item's time (an observation window, not a
        // wait for a condition) shows the same checkpoint, version and effects.
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        var later = (await grain.GetAsync())!;
        Assert.Equal(paused.Version, later.Version);
        Assert.Equal(paused.Checkpoint.Cursor, later.Checkpoint.Cursor);
        Assert.Equal(paused.Checkpoint.Processed, await EffectsAsync(id));
    }

    [Fact]
    public async Task PauseThenResumeAtOnce_WhileTheItemDrains_StartsOnlyAfterTheOldRunEnded()
    {
        var (id, grain) = NewJob();
        await grain.SubmitAsync(Synthetic("""{"items": 30, "itemMs": 100}"""));
        await WaitForProcessedAsync(grain, 2);

        // No wait between the two: the paused run is still finishing its item when resume arrives.
        await grain.ControlAsync(Control(JobAction.Pause));
        var resume = await grain.ControlAsync(Control(JobAction.Resume));

        Assert.Equal(JobActionKind.Transition, resume.Kind);
        var done = await WaitForStatusAsync(grain, JobStatus.Completed);
        Assert.Equal(1, done.Attempt);
        Assert.Equal(30, await EffectsAsync(id));
        Assert.Equal(0, await RedoneAsync(id));
    }

    [Fact]
    public async Task AFailingItem_IsRetriedFromTheCheckpoint_ThenTheJobFailsWithItsHistory()
    {
        var (id, grain) = NewJob();

        await grain.SubmitAsync(Synthetic("""{"items": 6, "failAtItem": 4}""") with { MaxAttempts = 2 });

        var failed = await WaitForStatusAsync(grain, JobStatus.Failed, TimeSpan.FromSeconds(60));
        Assert.Equal(2, failed.Attempt);
        Assert.Equal(2, failed.Attempts.Count);
        Assert.All(failed.Attempts, a => Assert.Equal("failed", a.Outcome));
        Assert.Contains("item 4", failed.Error, StringComparison.Ordinal);
        // Items 1-3 were applied once; the retry resumed after them instead of redoing them.
        Assert.Equal(3, await EffectsAsync(id));
        Assert.Equal(0, await RedoneAsync(id));
        Assert.Equal("3", failed.Checkpoint.Cursor);
    }

    [Fact]
    public async Task Restart_FromScratch_RedoesWorkWithoutDuplicatingEffects()
    {
        var (id, grain) = NewJob();
        await grain.SubmitAsync(Synthetic("""{"items": 10}"""));
        await WaitForStatusAsync(grain, JobStatus.Completed);

        var restart = await grain.ControlAsync(Control(JobAction.Restart) with { FromCheckpoint = false });

        Assert.Equal(JobActionKind.Transition, restart.Kind);
        var done = await WaitForStatusAsync(grain, JobStatus.Completed);
        Assert.Equal(2, done.Attempt);
        Assert.Equal(10, await EffectsAsync(id));
        Assert.Equal(10, await RedoneAsync(id));
    }

    [Fact]
    public async Task Submit_WithRunAfter_WaitsQueuedThenRunsNoEarlier()
    {
        var (id, grain) = NewJob();
        var runAfter = DateTimeOffset.UtcNow.AddSeconds(2);

        var result = await grain.SubmitAsync(Synthetic("""{"items": 3}""") with { RunAfter = runAfter });

        Assert.Equal(JobStatus.Queued, result.Job!.Status);
        Assert.StartsWith("scheduled to run after", result.Job.QueuedReason, StringComparison.Ordinal);
        Assert.Equal(runAfter, result.Job.RunAfter);
        var done = await WaitForStatusAsync(grain, JobStatus.Completed);
        Assert.True(done.StartedAt >= runAfter, $"started {done.StartedAt:O}, scheduled for {runAfter:O}");
        Assert.Equal(1, done.Attempt);
        Assert.Equal(3, await EffectsAsync(id));
    }

    [Fact]
    public async Task Cancel_AScheduledJob_ItNeverStarts()
    {
        var (id, grain) = NewJob();
        var runAfter = DateTimeOffset.UtcNow.AddSeconds(1);
        await grain.SubmitAsync(Synthetic("""{"items": 3}""") with { RunAfter = runAfter });

        var cancel = await grain.ControlAsync(Control(JobAction.Cancel));

        Assert.Equal(JobStatus.Cancelled, cancel.Job!.Status);
        // Bounded look past the scheduled time: it must stay as it is.
        await Wait.UntilAsync("the scheduled time to pass", () => Task.FromResult(DateTimeOffset.UtcNow > runAfter.AddSeconds(1.5)), TimeSpan.FromSeconds(10));
        var after = (await grain.GetAsync())!;
        Assert.Equal(JobStatus.Cancelled, after.Status);
        Assert.Null(after.StartedAt);
        Assert.Equal(0, await EffectsAsync(id));
    }

    [Fact]
    public async Task ForceFail_RecordsTheReason_AndRefusesLaterPauses()
    {
        var (_, grain) = NewJob();
        await grain.SubmitAsync(Synthetic("""{"items": 100, "itemMs": 50}"""));

        var result = await grain.ControlAsync(Control(JobAction.ForceFail) with { Reason = "disk replaced" });

        Assert.Equal(JobStatus.Failed, result.Job!.Status);
        Assert.Equal("disk replaced", result.Job.Error);
        Assert.Equal(JobActionKind.Conflict, (await grain.ControlAsync(Control(JobAction.Pause))).Kind);
        Assert.Equal(JobActionKind.AlreadyDone, (await grain.ControlAsync(Control(JobAction.ForceFail))).Kind);
    }

    private (string Id, IJobGrain Grain) NewJob()
    {
        var id = $"t{Guid.NewGuid():N}";
        return (id, fixture.Cluster.Client.GetGrain<IJobGrain>(id));
    }

    private static JobSubmission Synthetic(string parameters) =>
        new("synthetic", parameters, 0, null, 3, TimeSpan.FromSeconds(1), null, "test");

    private static JobControl Control(JobAction action) => new(action, "test", null, FromCheckpoint: true);

    private static async Task<JobSnapshot> WaitForStatusAsync(IJobGrain grain, JobStatus status, TimeSpan? timeout = null) =>
        await Wait.ForAsync($"job {grain.GetPrimaryKeyString()} to be {status}", async () => (await grain.GetAsync())!,
            j => j.Status == status, timeout ?? TimeSpan.FromSeconds(30));

    private static Task<JobSnapshot> WaitForProcessedAsync(IJobGrain grain, long items) =>
        Wait.ForAsync($"job {grain.GetPrimaryKeyString()} to process {items} items", async () => (await grain.GetAsync())!,
            j => j.Progress.Processed >= items);

    private Task<int> EffectsAsync(string id) =>
        Database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_effects WHERE job_id = @id", ("id", id));

    private Task<int> RedoneAsync(string id) =>
        Database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_executions WHERE job_id = @id AND executions > 1", ("id", id));

    private Task<List<string>> JournalAsync(string id) => Database.QueryAsync(
        "SELECT entry_type || ':' || coalesce(from_status, '') || '-' || coalesce(to_status, '') FROM job_journal WHERE job_id = @id ORDER BY seq",
        r => r.GetString(0), ("id", id));
}

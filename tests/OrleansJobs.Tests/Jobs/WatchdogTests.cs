using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Jobs;

/// <summary>
/// The watchdog on a real two-silo cluster: reminders of running jobs (1 s period here), stall and
/// overdue detection end to end. Effects are asserted in the synthetic tables, the journal and the
/// reminders table. Each decision (restart, pause, fail, per type) is tested on fake time in
/// <c>JobLifecycleTests</c>.
/// </summary>
[Collection(AdoNetClusterCollection.Name)]
public sealed class WatchdogTests(AdoNetClusterFixture fixture)
{
    private TestDatabase Database => fixture.Database;

    [Fact]
    public async Task HungRun_IsRestartedFromItsCheckpoint_ThenPausedForInvestigation()
    {
        var (id, grain) = NewJob();

        // Items 1-5 finish, the run hangs in item 6; the checkpoint is every 2 items.
        await grain.SubmitAsync(Submission(AdoNetClusterFixture.WatchedType, """{"items": 10, "hangAtItem": 6}"""));
        var paused = await WaitForStatusAsync(grain, JobStatus.Paused, TimeSpan.FromSeconds(60));

        var journal = await JournalAsync(id);
        Assert.Equal(3, journal.Count(e => e.Type == "stall_detected"));
        var restarts = journal.Where(e => e.Type == "recovery").ToList();
        Assert.Equal(2, restarts.Count);
        Assert.All(restarts, e => Assert.Contains("watchdog restart", e.Reason, StringComparison.Ordinal));
        Assert.Single(journal, e => e.Type == "paused_for_investigation");
        Assert.Contains(journal, e => e.Type == "state_change" && e.To == "Paused" && e.Actor == "watchdog");
        Assert.Equal(2, paused.Recoveries);
        // Every item before the hang applied once; the restarts redid at most the item after the checkpoint.
        Assert.Equal(5, await EffectsAsync(id));
        Assert.True(await MaxExecutionsAsync(id) <= 3, "an item ran more often than once per restart");
        // Paused: nothing left to watch, the slot is free.
        await Wait.UntilAsync($"the watchdog reminder of {id} to be removed", async () => await RemindersAsync(id) == 0);
        // The slot is given back after the paused state is stored: ask until it has been.
        await Wait.ForAsync("the type's slot to be free", () => fixture.Cluster.Client.GetGrain<IRunSlotsGrain>(AdoNetClusterFixture.WatchedType).GetStatsAsync(),
            s => s.Held == 0);
    }

    [Fact]
    public async Task OverdueRun_IsRestarted_ThenPaused_WithoutLosingOrRepeatingEffects()
    {
        var (id, grain) = NewJob();

        // 100 items of 100 ms: every run is overdue after 2 s, long before the job could finish.
        await grain.SubmitAsync(Submission(AdoNetClusterFixture.TimedType, """{"items": 100, "itemMs": 100}"""));
        var paused = await WaitForStatusAsync(grain, JobStatus.Paused, TimeSpan.FromSeconds(60));

        var journal = await JournalAsync(id);
        Assert.Equal(2, journal.Count(e => e.Type == "overdue"));
        Assert.Single(journal, e => e.Type == "recovery");
        Assert.Single(journal, e => e.Type == "paused_for_investigation");
        // A hard stop may cut the item in flight, never apply one twice (both counts in one
        // statement: the stopped run's last effect write can still land at any moment).
        var (effects, distinct) = (await Database.QueryAsync(
            "SELECT count(*), count(DISTINCT item) FROM synthetic_item_effects WHERE job_id = @id",
            r => (r.GetInt64(0), r.GetInt64(1)), ("id", id))).Single();
        Assert.InRange(effects, 10, 99);
        Assert.Equal(effects, distinct);
        Assert.True(paused.Checkpoint.Processed <= effects);

        // An operator resumes it: the restarts start over and it continues from the checkpoint.
        var resumed = await grain.ControlAsync(new JobControl(JobAction.Resume, "test", "looked at it", FromCheckpoint: true));
        Assert.Equal(JobStatus.Running, resumed.Job!.Status);
        await grain.ControlAsync(new JobControl(JobAction.Cancel, "test", null, FromCheckpoint: true));
        await WaitForStatusAsync(grain, JobStatus.Cancelled);
    }

    [Fact]
    public async Task RunningJob_HoldsAWatchdogReminder_UntilItEnds()
    {
        var (id, grain) = NewJob();

        // 10 s of work: long enough to see the reminder even if its first registration has to be retried (5 s later).
        await grain.SubmitAsync(Submission("synthetic", """{"items": 50, "itemMs": 200}"""));
        await Wait.UntilAsync($"a watchdog reminder for {id}", async () => await RemindersAsync(id) == 1);
        await WaitForStatusAsync(grain, JobStatus.Completed);

        await Wait.UntilAsync($"the watchdog reminder of {id} to be removed", async () => await RemindersAsync(id) == 0);
        Assert.Equal(50, await EffectsAsync(id));
        Assert.DoesNotContain(await JournalAsync(id), e => e.Type is "stall_detected" or "recovery");
    }

    private (string Id, IJobGrain Grain) NewJob()
    {
        var id = $"w{Guid.NewGuid():N}";
        return (id, fixture.Cluster.Client.GetGrain<IJobGrain>(id));
    }

    private static JobSubmission Submission(string type, string parameters) =>
        new(type, parameters, 0, null, 2, TimeSpan.FromSeconds(1), null, "test");

    private static Task<JobSnapshot> WaitForStatusAsync(IJobGrain grain, JobStatus status, TimeSpan? timeout = null) =>
        Wait.ForAsync($"job {grain.GetPrimaryKeyString()} to be {status}", async () => (await grain.GetAsync())!,
            j => j.Status == status, timeout ?? TimeSpan.FromSeconds(30));

    private Task<int> EffectsAsync(string id) =>
        Database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_effects WHERE job_id = @id", ("id", id));

    private Task<int> MaxExecutionsAsync(string id) =>
        Database.ScalarAsync<int>("SELECT coalesce(max(executions), 0) FROM synthetic_item_executions WHERE job_id = @id", ("id", id));

    private Task<int> RemindersAsync(string id) =>
        Database.ScalarAsync<int>("SELECT count(*) FROM orleansreminderstable WHERE grainid LIKE '%' || @id", ("id", id));

    private async Task<List<(string Type, string? To, string? Reason, string? Actor)>> JournalAsync(string id)
    {
        // The journal is a projection: wait until it has caught up with the grain's state.
        var expected = (await fixture.Cluster.Client.GetGrain<IJobGrain>(id).GetAsync())!.Version;
        await Wait.UntilAsync($"the index of {id} to reach version {expected}", async () =>
            await Database.ScalarAsync<long>("SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", id)) >= expected);
        return await Database.QueryAsync(
            "SELECT entry_type, to_status, reason, actor FROM job_journal WHERE job_id = @id ORDER BY seq",
            r => (r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3)),
            ("id", id));
    }
}

using Orleans.Core.Internal;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Jobs;

/// <summary>
/// Activations lost on a live silo. Orleans deactivates every activation whose grain directory
/// entry was held by a silo that died or left, wherever that activation runs, so a job or the
/// admission of its type can lose its memory while its own silo stays up, out of reach of the
/// recovery sweep. Here the loss is caused on purpose (a deactivation request), and only the
/// database is read afterwards: a read through the grain would itself activate the job.
/// </summary>
[Collection(AdoNetClusterCollection.Name)]
public sealed class ActivationLossTests(AdoNetClusterFixture fixture)
{
    private const string Type = AdoNetClusterFixture.SingleSlotType;

    private TestDatabase Database => fixture.Database;

    private IGrainFactory Grains => fixture.Cluster.Client;

    [Fact]
    public async Task RunningJob_WhoseActivationIsDeactivated_HandsOverAtAnItemBoundary_AndContinues_NothingRedone()
    {
        var id = NewId();
        var grain = Grains.GetGrain<IJobGrain>(id);
        await grain.SubmitAsync(Submission("synthetic", """{"items": 40, "itemMs": 100}"""));
        await Wait.UntilAsync($"job {id} to have done 5 items", async () => await EffectsAsync(id) >= 5);

        await grain.Cast<IGrainManagementExtension>().DeactivateOnIdle();

        await WaitForIndexStatusAsync(id, "Completed", TimeSpan.FromSeconds(30));
        Assert.Equal(40, await EffectsAsync(id));
        Assert.Equal(1, await Database.ScalarAsync<int>(
            "SELECT coalesce(max(executions), 0) FROM synthetic_item_executions WHERE job_id = @id", ("id", id)));
        var journal = await JournalAsync(id);
        var handoff = Assert.Single(journal, e => e.Type == "handoff");
        Assert.Contains("activation deactivated (ApplicationRequested)", handoff.Reason, StringComparison.Ordinal);
        Assert.Contains("stopped at an item boundary", handoff.Reason, StringComparison.Ordinal);
        var recovery = Assert.Single(journal, e => e.Type == "recovery");
        Assert.Contains("continued from the checkpoint", recovery.Reason, StringComparison.Ordinal);
        Assert.Equal(0, await Database.ScalarAsync<int>("SELECT recoveries FROM job_index WHERE job_id = @id", ("id", id)));
    }

    [Fact]
    public async Task ScheduledJob_WhoseActivationIsDeactivated_StillStartsOnTime_WithoutAnyCall()
    {
        var id = NewId();
        var grain = Grains.GetGrain<IJobGrain>(id);
        var runAfter = DateTimeOffset.UtcNow.AddSeconds(4);
        await grain.SubmitAsync(Submission("synthetic", """{"items": 3, "itemMs": 1}""", runAfter));

        // Its timer lives in the activation: without waking itself the job would sleep until something called it.
        await grain.Cast<IGrainManagementExtension>().DeactivateOnIdle();

        await WaitForIndexStatusAsync(id, "Completed", TimeSpan.FromSeconds(30));
        var started = await Database.ScalarAsync<DateTime>("SELECT started_at FROM job_index WHERE job_id = @id", ("id", id));
        Assert.True(new DateTimeOffset(started, TimeSpan.Zero) >= runAfter, $"started at {started:O}, before {runAfter:O}");
        Assert.Equal(3, await EffectsAsync(id));
    }

    [Fact]
    public async Task AdmissionWhoseActivationIsLost_TakesOverRunningAndWaitingJobs_FromTheIndex()
    {
        // One slot: a long job holds it, a second one waits.
        var holderId = NewId();
        var waiterId = NewId();
        var holder = Grains.GetGrain<IJobGrain>(holderId);
        await holder.SubmitAsync(Submission(Type, """{"items": 600, "itemMs": 100}"""));
        var waiting = await Grains.GetGrain<IJobGrain>(waiterId).SubmitAsync(Submission(Type, """{"items": 3, "itemMs": 1}"""));
        Assert.Equal(JobStatus.Queued, waiting.Job!.Status);
        await WaitForIndexStatusAsync(holderId, "Running", TimeSpan.FromSeconds(10));
        await WaitForIndexStatusAsync(waiterId, "Queued", TimeSpan.FromSeconds(10));

        var admission = Grains.GetGrain<IRunSlotsGrain>(Type);
        await admission.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        // The waiting job loses its activation too: nothing in memory anywhere remembers it.
        await Grains.GetGrain<IJobGrain>(waiterId).Cast<IGrainManagementExtension>().DeactivateOnIdle();

        // The new activation knows the running job (the limit holds) and the waiting one.
        var stats = await Wait.ForAsync("the admission to be active again", () => admission.GetStatsAsync(), s => s.Held == 1, TimeSpan.FromSeconds(10));
        Assert.Equal(1, stats.Limit);
        Assert.Equal(1, stats.Position);
        Assert.Equal("Queued", await IndexStatusAsync(waiterId));

        // The slot frees: the waiting job is admitted and runs, with no call to it from outside.
        await holder.ControlAsync(new JobControl(JobAction.Kill, "test", "free the slot", FromCheckpoint: true));
        await WaitForIndexStatusAsync(waiterId, "Completed", TimeSpan.FromSeconds(10));
        Assert.Equal(3, await EffectsAsync(waiterId));
        // The slot is given back after the completed state is stored (the index can show it first).
        await Wait.ForAsync("the slot to be free", () => admission.GetStatsAsync(), s => s.Held == 0);
    }

    [Fact]
    public async Task FinishedJob_ActivatedAgain_SendsItsStoredOutboxAgain_WithoutDrawingEventIds()
    {
        var after = await Database.ScalarAsync<long>("SELECT coalesce(max(event_id), 0) FROM job_journal");
        var id = NewId();
        var grain = Grains.GetGrain<IJobGrain>(id);
        await grain.SubmitAsync(Submission("synthetic", """{"items": 2, "itemMs": 1}"""));
        await WaitForIndexStatusAsync(id, "Completed", TimeSpan.FromSeconds(30));
        // The projection follows the write: the stored state keeps the last entries in its outbox, and the journal has them.
        await Wait.UntilAsync("the stored outbox to be in the journal", async () => await Database.ScalarAsync<bool>("""
            SELECT jsonb_array_length(o) > 0 AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(o) e
                WHERE NOT EXISTS (SELECT 1 FROM job_journal j WHERE j.job_id = @id AND j.seq = (e ->> 'Seq')::bigint))
            FROM (SELECT convert_from(payload, 'UTF8')::jsonb -> 'Outbox' AS o FROM grain_state WHERE grain_id = 'job/' || @id AND state_name = 'job') s
            """, ("id", id)), TimeSpan.FromSeconds(10));

        // A new activation (a read of the finished job) sends that outbox again; then another job journals after it.
        await grain.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        Assert.Equal(JobStatus.Completed, (await grain.GetAsync())!.Status);
        var later = NewId();
        await Grains.GetGrain<IJobGrain>(later).SubmitAsync(Submission("synthetic", """{"items": 1, "itemMs": 1}"""));
        await WaitForIndexStatusAsync(later, "Completed", TimeSpan.FromSeconds(30));

        // No id drawn for an entry stored already: every live reader would wait Events:GapTimeout at such a gap.
        var ids = await Database.QueryAsync("SELECT event_id FROM job_journal WHERE event_id > @after ORDER BY event_id", r => r.GetInt64(0), ("after", after));
        Assert.True(ids[^1] - ids[0] + 1 == ids.Count, $"event ids after {after} have gaps: {string.Join(", ", ids)}");
    }

    private static string NewId() => $"a{Guid.NewGuid():N}";

    private static JobSubmission Submission(string type, string parameters, DateTimeOffset? runAfter = null) =>
        new(type, parameters, 0, null, 2, TimeSpan.FromSeconds(1), null, "test", runAfter);

    private Task<int> EffectsAsync(string id) =>
        Database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_effects WHERE job_id = @id", ("id", id));

    private Task<string?> IndexStatusAsync(string id) =>
        Database.ScalarAsync<string?>("SELECT status FROM job_index WHERE job_id = @id", ("id", id));

    private Task WaitForIndexStatusAsync(string id, string status, TimeSpan timeout) =>
        Wait.UntilAsync($"job {id} to be {status} in the index", async () => await IndexStatusAsync(id) == status, timeout,
            describe: async () => $"index status {await IndexStatusAsync(id) ?? "none"}");

    private Task<List<(string Type, string? Reason)>> JournalAsync(string id) =>
        Database.QueryAsync(
            "SELECT entry_type, reason FROM job_journal WHERE job_id = @id ORDER BY seq",
            r => (r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1)),
            ("id", id));
}

using OrleansJobs.Jobs;
using OrleansJobs.Tests.Cluster;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Jobs;

/// <summary>
/// A read answers while a change of the job is being stored, and shows only what is stored: never
/// a status the database does not have yet. Runs on the failover tests' own cluster, because it
/// locks that cluster's job state.
/// </summary>
[Collection(FailoverClusterCollection.Name)]
public sealed class StoredStateReadTests(AdoNetClusterFixture fixture)
{
    [Fact]
    public async Task Get_WhileAControlIsBeingStored_ShowsTheStoredStatus_ThenTheNewOne()
    {
        var id = $"t{Guid.NewGuid():N}";
        var grain = fixture.Cluster.Client.GetGrain<IJobGrain>(id);
        await grain.SubmitAsync(new JobSubmission("synthetic", """{"items": 200, "itemMs": 50}""", 0, null, 1000, TimeSpan.FromMinutes(10), null, "test"));
        var running = (await grain.GetAsync())!;

        // The job's stored state cannot be written: the pause is decided but waits for its commit.
        await using var locked = await JobStateLock.JobAsync(fixture.Database, id);
        var pause = grain.ControlAsync(new JobControl(JobAction.Pause, "test", null, true));
        await Wait.UntilAsync("the pause's write to wait for the row lock", async () => await locked.WaitingAsync() > 0);
        var during = (await grain.GetAsync())!;

        await locked.ReleaseAsync();
        var paused = await pause;
        Assert.Equal(JobStatus.Running, during.Status);
        Assert.Equal(running.Version, during.Version);
        Assert.Equal(JobStatus.Pausing, paused.Job!.Status);
        Assert.True(paused.Job.Version > running.Version);
        await grain.ControlAsync(new JobControl(JobAction.Kill, "test", null, true));
    }
}

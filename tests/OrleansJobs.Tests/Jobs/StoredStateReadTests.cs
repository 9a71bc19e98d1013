using Npgsql;
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
        await using var locker = new NpgsqlConnection(fixture.Database.ConnectionString);
        await locker.OpenAsync();
        await using var transaction = await locker.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM grain_state WHERE grain_id = @id AND state_name = 'job' FOR UPDATE", locker, transaction))
        {
            lockRow.Parameters.AddWithValue("id", $"job/{id}");
            Assert.Equal(1, await lockRow.ExecuteScalarAsync());
        }

        var pause = grain.ControlAsync(new JobControl(JobAction.Pause, "test", null, true));
        await Wait.UntilAsync("the pause's write to wait for the row lock", async () => await fixture.Database.ScalarAsync<long>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%grain_state%'") > 0);
        var during = (await grain.GetAsync())!;

        await transaction.RollbackAsync();
        var paused = await pause;
        Assert.Equal(JobStatus.Running, during.Status);
        Assert.Equal(running.Version, during.Version);
        Assert.Equal(JobStatus.Pausing, paused.Job!.Status);
        Assert.True(paused.Job.Version > running.Version);
        await grain.ControlAsync(new JobControl(JobAction.Kill, "test", null, true));
    }
}

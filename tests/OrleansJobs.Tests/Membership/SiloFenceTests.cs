using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using OrleansJobs.Hosting;
using OrleansJobs.Membership;
using OrleansJobs.Storage;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Membership;

/// <summary>
/// The job store refuses every write of a silo the cluster has declared dead, so a silo that wakes
/// from a freeze cannot overwrite what a survivor resumed. Real PostgreSQL, real membership rows.
/// </summary>
public sealed class SiloFenceTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private NpgsqlDataSource DataSource => fixture.Database.DataSource;

    [Fact]
    public void DeadStatus_IsOrleansDead() => Assert.Equal((int)SiloStatus.Dead, SiloMembershipRow.DeadStatus);

    [Fact]
    public async Task Writes_OfASiloDeclaredDead_AreRefused_AndChangeNothing()
    {
        var silo = new FakeSilo(fixture.Database);
        await silo.SetStatusAsync(SiloStatus.Active);
        await using var storage = NewStorage(silo);
        var grain = GrainId.Create("fence", Guid.NewGuid().ToString("N"));
        var state = new GrainState<Counter> { State = new Counter { Value = 1 } };
        await storage.WriteStateAsync("counter", grain, state);

        await silo.SetStatusAsync(SiloStatus.Dead);
        state.State.Value = 2;
        await Assert.ThrowsAsync<SiloDeclaredDeadException>(() => storage.WriteStateAsync("counter", grain, state));
        var other = GrainId.Create("fence", Guid.NewGuid().ToString("N"));
        await Assert.ThrowsAsync<SiloDeclaredDeadException>(() => storage.WriteStateAsync("counter", other, new GrainState<Counter> { State = new Counter { Value = 9 } }));

        // Effects: the first write is all there is.
        Assert.Equal(1, await fixture.Database.ScalarAsync<int>(
            "SELECT version FROM grain_state WHERE grain_id = @g", ("g", grain.ToString())));
        Assert.Contains("\"Value\":1", await fixture.Database.ScalarAsync<string>(
            "SELECT convert_from(payload, 'UTF8') FROM grain_state WHERE grain_id = @g", ("g", grain.ToString())), StringComparison.Ordinal);
        Assert.Equal(0, await fixture.Database.ScalarAsync<int>(
            "SELECT count(*)::int FROM grain_state WHERE grain_id = @g", ("g", other.ToString())));
    }

    [Fact]
    public async Task Writes_OfAShuttingDownSilo_OrOfOneWithoutARow_GoThrough()
    {
        // A silo stopping on its own still saves its jobs' checkpoints; a silo on another clustering has no row.
        var stopping = new FakeSilo(fixture.Database);
        await stopping.SetStatusAsync(SiloStatus.ShuttingDown);
        var unlisted = new FakeSilo(fixture.Database);
        foreach (var silo in new[] { stopping, unlisted })
        {
            await using var storage = NewStorage(silo);
            var grain = GrainId.Create("fence", Guid.NewGuid().ToString("N"));
            var state = new GrainState<Counter> { State = new Counter { Value = 5 } };
            await storage.WriteStateAsync("counter", grain, state);
            state.State.Value = 6;
            await storage.WriteStateAsync("counter", grain, state);
            Assert.Equal("2", state.ETag);
        }
    }

    [Fact]
    public async Task AWriteInFlight_HoldsOffTheDeclaration_UntilItCommits()
    {
        // The fence share-locks the silo's row: a declaration of death waits for the write that holds it.
        var silo = new FakeSilo(fixture.Database);
        await silo.SetStatusAsync(SiloStatus.Active);
        await using var blocker = await DataSource.OpenConnectionAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand($"SELECT {SiloMembershipRow.NotDeadSql}", blocker, transaction))
        {
            silo.Row.AddParameters(lockRow);
            Assert.True((bool)(await lockRow.ExecuteScalarAsync())!);
        }

        var declaring = silo.SetStatusAsync(SiloStatus.Dead);
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.False(declaring.IsCompleted, "the declaration must wait for the fenced statement's commit");
        await transaction.CommitAsync();
        await declaring.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private BatchedGrainStorage NewStorage(FakeSilo silo) => new(
        "fence-test", DataSource, new OrleansJobs.Storage.JsonGrainStorageSerializer(), new BatchedGrainStorageOptions(),
        NullLogger<BatchedGrainStorage>.Instance, silo.Row);

    public sealed class Counter
    {
        public int Value { get; set; }
    }

    private sealed class GrainState<T> : IGrainState<T>
    {
        [System.Diagnostics.CodeAnalysis.AllowNull]
        public required T State { get; set; }

        public string? ETag { get; set; }

        public bool RecordExists { get; set; }
    }
}

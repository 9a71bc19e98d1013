using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using OrleansJobs.Hosting;
using OrleansJobs.Tests.Infrastructure;
using OrleansJobs.Tests.TestGrains;

namespace OrleansJobs.Tests.Storage;

/// <summary>
/// Drives the storage providers of a running silo directly against our schema: the ETag rules
/// grain storage relies on for fencing (the job store with group commit, and the Orleans ADO.NET
/// provider that holds every other grain state), and the ring-range reads the reminder service
/// relies on to find every watchdog.
/// </summary>
[Collection(AdoNetClusterCollection.Name)]
public sealed class ProviderContractTests(AdoNetClusterFixture fixture)
{
    /// <summary>Orleans' name of the default grain storage (the ADO.NET provider here).</summary>
    private const string DefaultStore = "Default";

    private IServiceProvider Services =>
        fixture.Cluster.GetSiloServiceProvider(fixture.Cluster.GetActiveSilos().First().SiloAddress)
        ?? throw new InvalidOperationException("no in-process silo");

    [Theory]
    [InlineData(OrleansJobsDatabase.JobStore)]
    [InlineData(DefaultStore)]
    public async Task GrainStorage_WriteReadClear_FollowsETags(string store)
    {
        var storage = Services.GetRequiredKeyedService<IGrainStorage>(store);
        var grainId = GrainId.Create("contract", $"etag-{Guid.NewGuid():N}");

        var state = new GrainState<StateProbeState>(new StateProbeState { Total = 1 });
        await storage.WriteStateAsync("probe", grainId, state);
        var firstETag = state.ETag;
        state.State!.Total = 2;
        await storage.WriteStateAsync("probe", grainId, state);

        Assert.NotNull(firstETag);
        Assert.NotEqual(firstETag, state.ETag);
        var read = new GrainState<StateProbeState>(new StateProbeState());
        await storage.ReadStateAsync("probe", grainId, read);
        Assert.True(read.RecordExists);
        Assert.Equal(2, read.State!.Total);
        Assert.Equal(state.ETag, read.ETag);

        await storage.ClearStateAsync("probe", grainId, read);
        var cleared = new GrainState<StateProbeState>(new StateProbeState { Total = -1 });
        await storage.ReadStateAsync("probe", grainId, cleared);
        Assert.False(cleared.RecordExists);
    }

    [Theory]
    [InlineData(OrleansJobsDatabase.JobStore)]
    [InlineData(DefaultStore)]
    public async Task GrainStorage_WriteWithStaleETag_IsRefusedAndKeepsStoredState(string store)
    {
        var storage = Services.GetRequiredKeyedService<IGrainStorage>(store);
        var grainId = GrainId.Create("contract", $"stale-{Guid.NewGuid():N}");
        var current = new GrainState<StateProbeState>(new StateProbeState { Total = 10 });
        await storage.WriteStateAsync("probe", grainId, current);
        var zombie = new GrainState<StateProbeState>(new StateProbeState { Total = 99 }) { ETag = current.ETag };
        current.State!.Total = 11;
        await storage.WriteStateAsync("probe", grainId, current);

        // A superseded writer (an activation on a silo declared dead) still holds the old ETag.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("probe", grainId, zombie));

        var read = new GrainState<StateProbeState>(new StateProbeState());
        await storage.ReadStateAsync("probe", grainId, read);
        Assert.Equal(11, read.State!.Total);
    }

    [Theory]
    [InlineData(OrleansJobsDatabase.JobStore)]
    [InlineData(DefaultStore)]
    public async Task GrainStorage_TwoRacingFirstWrites_ExactlyOneWins(string store)
    {
        var storage = Services.GetRequiredKeyedService<IGrainStorage>(store);
        var grainId = GrainId.Create("contract", $"race-{Guid.NewGuid():N}");

        var writers = Enumerable.Range(1, 8)
            .Select(i => Task.Run(() => storage.WriteStateAsync("probe", grainId, new GrainState<StateProbeState>(new StateProbeState { Total = i }))))
            .ToList();
        var outcomes = await Task.WhenAll(writers.Select(async w =>
        {
            try
            {
                await w;
                return true;
            }
            catch (InconsistentStateException)
            {
                return false;
            }
        }));

        Assert.Equal(1, outcomes.Count(won => won));
        var rows = store == DefaultStore
            ? "SELECT count(*) FROM orleansstorage WHERE grainidextensionstring LIKE '%' || @key || '%'"
            : "SELECT count(*) FROM grain_state WHERE grain_id LIKE '%' || @key || '%'";
        Assert.Equal(1, await fixture.Database.ScalarAsync<int>(rows, ("key", grainId.Key.ToString()!)));
    }

    [Fact]
    public async Task JobStore_ManyConcurrentWrites_AreEachDurableWithTheirOwnVersion()
    {
        var storage = Services.GetRequiredKeyedService<IGrainStorage>(OrleansJobsDatabase.JobStore);
        var prefix = $"many-{Guid.NewGuid():N}";
        var states = Enumerable.Range(0, 500)
            .Select(i => (Id: GrainId.Create("contract", $"{prefix}-{i}"), State: new GrainState<StateProbeState>(new StateProbeState { Total = i })))
            .ToList();

        // Far more writes than fit in one round trip: they go out in batches, each still checked on its own.
        await Task.WhenAll(states.Select(s => Task.Run(() => storage.WriteStateAsync("probe", s.Id, s.State))));
        await Task.WhenAll(states.Select(s =>
        {
            s.State.State!.Total += 1000;
            return Task.Run(() => storage.WriteStateAsync("probe", s.Id, s.State));
        }));

        Assert.All(states, s => Assert.Equal("2", s.State.ETag));
        var stored = await fixture.Database.QueryAsync(
            "SELECT grain_id, version, convert_from(payload, 'UTF8')::jsonb ->> 'Total' FROM grain_state WHERE grain_id LIKE '%' || @prefix || '%'",
            r => (Id: r.GetString(0), Version: r.GetInt32(1), Total: int.Parse(r.GetString(2), System.Globalization.CultureInfo.InvariantCulture)),
            ("prefix", prefix));
        Assert.Equal(500, stored.Count);
        Assert.All(stored, row => Assert.Equal(2, row.Version));
        Assert.Equal(
            states.Select(s => (s.Id.ToString(), s.State.State!.Total)).Order(),
            stored.Select(r => (r.Id, r.Total)).Order());

        var read = await Task.WhenAll(states.Select(async s =>
        {
            var copy = new GrainState<StateProbeState>(new StateProbeState());
            await storage.ReadStateAsync("probe", s.Id, copy);
            return (s.State.State!.Total, copy.State!.Total, copy.ETag);
        }));
        Assert.All(read, r => Assert.Equal((r.Item1, "2"), (r.Item2, r.ETag)));
    }

    [Fact]
    public async Task JobStore_ReadOfAMissingState_GivesAFreshStateWithoutETag()
    {
        var storage = Services.GetRequiredKeyedService<IGrainStorage>(OrleansJobsDatabase.JobStore);
        var read = new GrainState<StateProbeState>(new StateProbeState { Total = 5 }) { ETag = "7" };
        await storage.ReadStateAsync("probe", GrainId.Create("contract", $"missing-{Guid.NewGuid():N}"), read);
        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);
        Assert.Equal(0, read.State!.Total);
    }

    [Fact]
    public async Task ReminderTable_ReadRows_ReturnsExactlyTheRemindersOfEachRingRange()
    {
        var table = Services.GetRequiredService<IReminderTable>();
        var prefix = $"range-{Guid.NewGuid():N}";
        var entries = new List<ReminderEntry>();
        for (var i = 0; i < 200; i++)
        {
            var entry = new ReminderEntry
            {
                GrainId = GrainId.Create("contract", $"{prefix}-{i}"),
                ReminderName = "watchdog",
                StartAt = DateTime.UtcNow,
                Period = TimeSpan.FromMinutes(1),
            };
            entry.ETag = await table.UpsertRow(entry);
            entries.Add(entry);
        }

        (uint Begin, uint End)[] ranges =
        [
            (0, 0x7FFF_FFFF),                 // lower half
            (0x7000_0000, 0x9000_0000),       // crosses 2^31, where the signed column changes sign
            (0xC000_0000, 0x4000_0000),       // wraps past 2^32
            (0x8000_0000, 0xFFFF_FFFF),       // upper half
            (0x1234_5678, 0x1234_5678),       // begin == end: the whole ring
        ];
        foreach (var (begin, end) in ranges)
        {
            var rows = await table.ReadRows(begin, end);
            var got = rows.Reminders.Where(r => r.GrainId.ToString().Contains(prefix, StringComparison.Ordinal))
                .Select(r => r.GrainId).ToHashSet();
            var expected = entries.Where(e => InArc(e.GrainId.GetUniformHashCode(), begin, end)).Select(e => e.GrainId).ToHashSet();
            Assert.True(expected.SetEquals(got), $"range ({begin:X8}, {end:X8}]: expected {expected.Count} reminders, got {got.Count}");
        }
    }

    [Fact]
    public async Task ReminderTable_RemoveRow_NeedsTheCurrentETag()
    {
        var table = Services.GetRequiredService<IReminderTable>();
        var entry = new ReminderEntry
        {
            GrainId = GrainId.Create("contract", $"remove-{Guid.NewGuid():N}"),
            ReminderName = "watchdog",
            StartAt = DateTime.UtcNow,
            Period = TimeSpan.FromMinutes(1),
        };
        var firstETag = await table.UpsertRow(entry);
        entry.Period = TimeSpan.FromMinutes(2);
        var secondETag = await table.UpsertRow(entry);

        Assert.NotEqual(firstETag, secondETag);
        Assert.False(await table.RemoveRow(entry.GrainId, entry.ReminderName, firstETag!));
        var stored = await table.ReadRow(entry.GrainId, entry.ReminderName);
        Assert.NotNull(stored);
        Assert.Equal(TimeSpan.FromMinutes(2), stored.Period);
        Assert.True(await table.RemoveRow(entry.GrainId, entry.ReminderName, secondETag!));
        Assert.Null(await table.ReadRow(entry.GrainId, entry.ReminderName));
    }

    /// <summary>The ring arc (begin, end] of the unsigned hash space; begin == end is the whole ring.</summary>
    private static bool InArc(uint hash, uint begin, uint end) =>
        begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;
}

using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using OrleansJobs.Hosting;
using OrleansJobs.Membership;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.Membership;

/// <summary>
/// A silo acts only while it is confirmed a member: after a freeze (here, fake time jumping ahead)
/// a run waits at its next item boundary for a fresh read of the silo's own membership row, and a
/// silo found dead stops everything. Real PostgreSQL, fake time.
/// </summary>
public sealed class SiloLivenessTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly LivenessOptions Settings = new() { ConfirmInterval = TimeSpan.FromMilliseconds(250), ConfirmWindow = TimeSpan.FromSeconds(2) };

    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly QuietMembership _membership = new();
    private NpgsqlDataSource DataSource => fixture.Database.DataSource;

    [Fact]
    public async Task AfterAFreeze_ARunWaitsForAFreshVerdict_AndGoesOnWhenTheSiloIsStillAMember()
    {
        var silo = new FakeSilo(fixture.Database);
        await silo.SetStatusAsync(SiloStatus.Active);
        using var liveness = NewLiveness(silo);
        await liveness.StartAsync(CancellationToken.None);
        await liveness.EnsureAliveAsync(CancellationToken.None); // just confirmed: returns at once

        // Frozen for 30 s: the confirmation is old, so the next item boundary waits (the reads of the
        // membership table are held meanwhile, so that the confirmation loop cannot answer before the check).
        Task waiting;
        await using (await HoldMembershipReadsAsync())
        {
            await Task.Delay(50); // a read that finished before the hold has recorded its (now old) confirmation
            _time.Advance(TimeSpan.FromSeconds(30));
            waiting = liveness.EnsureAliveAsync(CancellationToken.None).AsTask();
            await Task.Delay(50);
            Assert.False(waiting.IsCompleted, "a run must not go on before a fresh verdict");
        }

        // The confirmation loop's next read finds the silo a member and lets the run go on.
        await PumpUntilDoneAsync(waiting);
        Assert.False(liveness.IsDeclaredDead);
        await liveness.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task AfterAFreeze_ASiloDeclaredDead_StopsEveryRun_AndWritesNothing()
    {
        var silo = new FakeSilo(fixture.Database);
        await silo.SetStatusAsync(SiloStatus.Active);
        using var liveness = NewLiveness(silo);
        await liveness.StartAsync(CancellationToken.None);
        await liveness.EnsureAliveAsync(CancellationToken.None);

        // While it was frozen, the cluster declared it dead.
        var stopped = new TaskCompletionSource();
        liveness.DeclaredDead.Register(stopped.SetResult);
        await silo.SetStatusAsync(SiloStatus.Dead);
        Task waiting;
        await using (await HoldMembershipReadsAsync())
        {
            await Task.Delay(50);
            _time.Advance(TimeSpan.FromSeconds(30));
            waiting = EnsureAliveAsync(liveness);
            await Task.Delay(50);
            // The loop's first read may come after the status change and give the verdict already: then it fails at once.
            Assert.False(waiting.IsCompletedSuccessfully, "a run must not go on before the verdict");
        }

        await Assert.ThrowsAsync<SiloDeclaredDeadException>(() => PumpUntilDoneAsync(waiting));
        await stopped.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Throws<SiloDeclaredDeadException>(liveness.ThrowIfDeclaredDead);
        await Assert.ThrowsAsync<SiloDeclaredDeadException>(() => liveness.EnsureAliveAsync(CancellationToken.None).AsTask());
        // Orleans is asked to read the table, which takes the silo out of the process.
        await Wait.UntilAsync("membership to be refreshed", () => Task.FromResult(_membership.Refreshes > 0));
        await liveness.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task DatabaseAway_ARunningSilo_KeepsItsRunsGoing_ButAFrozenOneWaits()
    {
        // Nobody can declare a silo dead without writing the table: while it cannot be read, punctual ticks confirm.
        var silo = new FakeSilo(fixture.Database);
        await using var unreachable = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=x;Password=x;Timeout=1");
        using var liveness = new SiloLiveness(
            unreachable, silo.Row, _membership, Options.Create(Settings), _time, NullLogger<SiloLiveness>.Instance);
        await liveness.StartAsync(CancellationToken.None);
        for (var tick = 0; tick < 20; tick++)
        {
            _time.Advance(Settings.ConfirmInterval);
            await Task.Delay(20);
        }

        await liveness.EnsureAliveAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        // A late tick (a freeze) is not confirmed by a failed read.
        _time.Advance(TimeSpan.FromSeconds(30));
        var waiting = liveness.EnsureAliveAsync(CancellationToken.None).AsTask();
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.False(waiting.IsCompleted, "after a freeze, only a read of the table may let runs go on");
        await liveness.StopAsync(CancellationToken.None);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10)); // a silo stopping on its own holds nothing back
    }

    /// <summary>Lets fake time pass, a confirmation interval at a time, until the task is done (at most 10 s of real time).</summary>
    private async Task PumpUntilDoneAsync(Task task)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!task.IsCompleted && DateTime.UtcNow < deadline)
        {
            _time.Advance(Settings.ConfirmInterval);
            await Task.WhenAny(task, Task.Delay(20));
        }

        await task.WaitAsync(TimeSpan.FromSeconds(1));
    }

    /// <summary>The item boundary's check as a task (a verdict already known throws at once).</summary>
    private static async Task EnsureAliveAsync(SiloLiveness liveness) => await liveness.EnsureAliveAsync(CancellationToken.None);

    /// <summary>Holds every read of the membership table (an exclusive table lock) until the transaction is disposed.</summary>
    private async Task<IAsyncDisposable> HoldMembershipReadsAsync()
    {
        var connection = await DataSource.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand("LOCK TABLE orleansmembershiptable IN ACCESS EXCLUSIVE MODE", connection, transaction);
        await command.ExecuteNonQueryAsync();
        return new Held(connection, transaction);
    }

    private sealed class Held(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    private SiloLiveness NewLiveness(FakeSilo silo) =>
        new(DataSource, silo.Row, _membership, Options.Create(Settings), _time, NullLogger<SiloLiveness>.Instance);
}

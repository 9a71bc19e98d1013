using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>The real silo process: membership through PostgreSQL, crashes, graceful stops, start-up errors.</summary>
[RunsFor(50)]
public sealed class SiloProcessTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    [Fact]
    public async Task TwoSilos_JoinThroughAdoNetMembership_AndAKilledSiloIsDeclaredDead()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var first = cluster.StartSilo();
        var second = cluster.StartSilo();
        await cluster.WaitForActiveAsync(first);
        await cluster.WaitForActiveAsync(second);

        await second.Process.KillAsync();

        // The survivor's probes fail, it votes, and with two silos one vote declares death.
        await cluster.WaitForStatusAsync(second, MembershipStatus.Dead, TimeSpan.FromSeconds(90));
        var rows = await cluster.MembershipAsync();
        Assert.Equal(MembershipStatus.Active, rows.Single(r => r.Port == first.SiloPort).Status);
        Assert.False(first.Process.HasExited);
    }

    [Fact]
    public async Task SilosJoiningAHealthyCluster_DeclareNoLiveMemberDead()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var first = cluster.StartSilo();
        await cluster.WaitForActiveAsync(first);

        var joiners = new[] { cluster.StartSilo(), cluster.StartSilo() };
        foreach (var joiner in joiners)
        {
            await cluster.WaitForActiveAsync(joiner);
        }

        var rows = await cluster.MembershipAsync();
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.Equal(MembershipStatus.Active, r.Status));
        Assert.All(joiners, j => Assert.DoesNotContain("declaring it dead", j.Process.Output(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sigterm_LeavesTheClusterGracefully_AndExitsCleanly()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var silo = cluster.StartSilo();
        await cluster.WaitForActiveAsync(silo);

        await silo.Process.TerminateAsync(TimeSpan.FromSeconds(40));

        Assert.Equal(0, silo.Process.ExitCode);
        // A graceful stop marks its own row Dead; nobody has to detect a failure.
        var row = (await cluster.MembershipAsync()).Single(r => r.Port == silo.SiloPort);
        Assert.Equal(MembershipStatus.Dead, row.Status);
    }

    [Fact]
    public async Task Silo_WithoutAConnectionString_ExitsWithAClearError()
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__OrleansJobs"] = "",
            ["ORLEANSJOBS_DB"] = "",
        };
        await using var silo = ManagedProcess.StartDotnet("silo:unconfigured", Repository.SiloDirectory, "OrleansJobs.Silo.dll", environment);

        await silo.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.NotEqual(0, silo.ExitCode);
        Assert.Contains("No database configured", silo.Output(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MigrateCommand_OnAnEmptyDatabase_AppliesTheSchemaAndExits()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync("migrate");
        var environment = new Dictionary<string, string> { ["ConnectionStrings__OrleansJobs"] = database.ConnectionString };

        await using (var first = ManagedProcess.StartDotnet("migrate:1", Repository.SiloDirectory, "OrleansJobs.Silo.dll", environment, "migrate"))
        {
            await first.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(first.ExitCode == 0, first.Output());
            Assert.Contains("applied schema versions", first.Output(), StringComparison.Ordinal);
        }

        await using var second = ManagedProcess.StartDotnet("migrate:2", Repository.SiloDirectory, "OrleansJobs.Silo.dll", environment, "migrate");
        await second.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("schema is current", second.Output(), StringComparison.Ordinal);
        Assert.Equal(
            Storage.SchemaMigratorTests.OrleansQueryKeys.Length,
            await database.ScalarAsync<int>("SELECT count(*) FROM orleansquery"));
    }
}

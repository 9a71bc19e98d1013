using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Storage;
using OrleansJobs.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>The real ApiHost process in front of real silo processes, over real HTTP.</summary>
[RunsFor(75)]
public sealed class ApiHostTests(MigratedDatabaseFixture fixture, ITestOutputHelper output) : IClassFixture<MigratedDatabaseFixture>
{
    [Fact]
    public async Task Ready_WithTwoSilos_ReportsBothAndServesOpenApiAndDashboard()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var silos = new[] { cluster.StartSilo(), cluster.StartSilo() };
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(20));

        var ready = await ProcessCluster.WaitForReadyAsync(http, silos: 2);

        Assert.Equal("Healthy", ready.GetProperty("status").GetString());
        Assert.True(ready.GetProperty("database").GetProperty("healthy").GetBoolean());
        Assert.Equal(SchemaMigrator.LatestVersion, ready.GetProperty("database").GetProperty("schemaVersion").GetInt32());
        var reported = ready.GetProperty("cluster").GetProperty("silos").EnumerateArray().Select(s => s.GetString()!).ToList();
        Assert.All(silos, s => Assert.Contains(reported, r => Names(r, s)));

        using var live = await http.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);

        var openApi = await http.GetFromJsonAsync<JsonElement>(new Uri("/openapi/v1.json", UriKind.Relative));
        var paths = openApi.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/health", out _));
        Assert.True(paths.TryGetProperty("/health/ready", out var readyPath));
        Assert.True(readyPath.GetProperty("get").GetProperty("responses").TryGetProperty("503", out _));

        using var dashboard = await http.GetAsync(new Uri("/dashboard/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("Orleans Dashboard", await dashboard.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiHost_StartedBeforeAnySilo_IsLiveButNotReady_UntilASiloJoins()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(20));

        await Wait.UntilAsync("/health to answer", async () =>
            (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode == HttpStatusCode.OK);
        // The first database check of a new process can outlast the readiness check's timeout
        // (connection pool and driver warm-up on a loaded machine): ask until it has answered.
        var (status, body) = await Wait.ForAsync("/health/ready to see the database", async () =>
        {
            using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
            return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
        }, r => r.Item2.GetProperty("database").GetProperty("healthy").GetBoolean(), TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("Unhealthy", body.GetProperty("status").GetString());
        Assert.True(body.GetProperty("database").GetProperty("healthy").GetBoolean());
        Assert.False(body.GetProperty("cluster").GetProperty("healthy").GetBoolean());
        // No silo has told the client which grains exist yet: requests that need one are 503s to retry, never 500s.
        foreach (var (method, path, json) in new[]
        {
            ("POST", "/api/jobs", """{"type": "synthetic", "parameters": {"items": 1}}"""),
            ("GET", "/api/jobs/some-job", ""),
            ("POST", "/api/admin/validator/run", "{}"),
            ("GET", "/api/admin/validator", ""),
        })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
            {
                Content = method == "POST" ? new StringContent(json, System.Text.Encoding.UTF8, "application/json") : null,
            };
            using var refused = await http.SendAsync(request);
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{method} {path}: {(int)refused.StatusCode} {await refused.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }

        cluster.StartSilo();
        await ProcessCluster.WaitForReadyAsync(http, silos: 1);
        Assert.False(api.Process.HasExited);
    }

    [Fact]
    public async Task ApiHost_AfterEverySiloDied_ReconnectsWhenTheyReturnOnTheSamePorts()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var silos = new[] { cluster.StartSilo(), cluster.StartSilo() };
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(20));
        await ProcessCluster.WaitForReadyAsync(http, silos: 2);

        // Both silos die; a supervisor brings them back on their fixed ports while the API host stays up.
        foreach (var silo in silos)
        {
            await silo.Process.KillAsync();
        }

        await Wait.UntilAsync("/health/ready to answer 503 with no silo left", async () =>
        {
            using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
            return response.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, TimeSpan.FromSeconds(60));
        var generation = (await cluster.MembershipAsync()).Max(r => r.Generation);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var restarted = silos.Select(s => cluster.StartSilo(s.SiloPort, s.GatewayPort)).ToList();
        foreach (var silo in restarted)
        {
            await cluster.WaitForActiveAsync(silo, TimeSpan.FromSeconds(60), newerThanGeneration: generation);
        }

        var active = clock.Elapsed;
        // The API host finds the new generations on the old addresses and calls grains through them again.
        var ready = await ProcessCluster.WaitForReadyAsync(http, silos: 2, TimeSpan.FromSeconds(60));
        output.WriteLine($"silos started and active {active.TotalSeconds:0.0} s after the restart; the API host ready {clock.Elapsed.TotalSeconds:0.0} s after it");
        var reported = ready.GetProperty("cluster").GetProperty("silos").EnumerateArray().Select(s => s.GetString()!).ToList();
        Assert.All(restarted, s => Assert.Contains(reported, r => Names(r, s)));
        using var submit = await http.PostJsonAsync("/api/jobs", """{"type": "synthetic", "parameters": {"items": 1}}""");
        Assert.Equal(HttpStatusCode.Created, submit.StatusCode);
        Assert.False(api.Process.HasExited);
    }

    [Fact]
    public async Task ApiHost_AfterEverySiloDied_ReconnectsWhenANewSiloJoins()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var original = cluster.StartSilo();
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(20));
        await ProcessCluster.WaitForReadyAsync(http, silos: 1);

        await original.Process.KillAsync();
        // Nobody is left to declare the silo dead, so the membership table still names it: readiness must
        // not take that for a serving silo (its port refuses connections).
        var killed = System.Diagnostics.Stopwatch.StartNew();
        await Wait.UntilAsync("/health/ready to answer 503 with no silo left", async () =>
        {
            using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
            return response.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, TimeSpan.FromSeconds(60));
        output.WriteLine($"503 after {killed.Elapsed.TotalSeconds:0.0} s");
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(10), $"readiness reported the killed silo serving for {killed.Elapsed.TotalSeconds:0.0} s");

        // A different silo (new ports) must be found through the membership table, without restarting the API.
        var replacement = cluster.StartSilo();
        var ready = await ProcessCluster.WaitForReadyAsync(http, silos: 1, TimeSpan.FromSeconds(90));

        var silo = ready.GetProperty("cluster").GetProperty("silos")[0].GetString()!;
        Assert.True(Names(silo, replacement), $"readiness named {silo}, not the replacement");
        Assert.False(api.Process.HasExited);
        // Nobody was left to vote the dead silo out: the replacement declared it dead on start
        // because its endpoint refused connections (RefusingSiloSweep).
        var rows = await cluster.MembershipAsync();
        Assert.Equal(MembershipStatus.Dead, rows.Single(r => r.Port == original.SiloPort).Status);
    }

    // Readiness names a silo by its endpoint, or by its gateway until the management grain has answered (ClusterHealthCheck).
    private static bool Names(string reported, SiloProcess silo) =>
        reported.StartsWith(silo.Endpoint + "@", StringComparison.Ordinal) || reported.StartsWith($"127.0.0.1:{silo.GatewayPort}@", StringComparison.Ordinal);
}

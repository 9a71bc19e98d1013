using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// One silo process (with the given extra settings) and the API host process on a fresh
/// database, shared by the tests of one class; everything is stopped and dropped afterwards.
/// <paramref name="clusterSettings"/> go to every process (the API host's too).
/// </summary>
public abstract class ApiSystemFixture(
    string purpose, IReadOnlyDictionary<string, string>? siloSettings = null, IReadOnlyDictionary<string, string>? clusterSettings = null) : IAsyncLifetime
{
    private TestDatabase? _database;
    private ProcessCluster? _cluster;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public TestDatabase Database => _database!;

    /// <summary>The silo process (its ports, its <c>/metrics</c>).</summary>
    public SiloProcess Silo { get; private set; } = null!;

    /// <summary>The API host process (its admin key).</summary>
    public ApiHostProcess Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _database = await PostgresServer.CreateDatabaseAsync(purpose);
        await _database.ApplySchemaAsync();
        _cluster = new ProcessCluster(_database, clusterSettings);
        Silo = _cluster.StartSilo(extra: siloSettings);
        Api = _cluster.StartApiHost();
        Http.BaseAddress = Api.BaseAddress;
        ApiKeys.Authorize(Http, Api.AdminKey);
        await ProcessCluster.WaitForReadyAsync(Http, silos: 1);
    }

    /// <summary>Starts one more API host on the same cluster and waits until it is ready; stopped with the fixture.</summary>
    public async Task<ApiHostProcess> StartApiHostAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var api = _cluster!.StartApiHost(settings);
        using var http = api.CreateClient();
        await ProcessCluster.WaitForReadyAsync(http, silos: 1);
        return api;
    }

    /// <summary>Makes an API key over the API (as an admin); returns the key.</summary>
    public async Task<string> CreateKeyAsync(string name, string[] roles, string[]? jobTypes = null, string[]? devices = null)
    {
        using var response = await Http.PostAsJsonAsync(new Uri("/api/admin/keys", UriKind.Relative), new { name, roles, jobTypes, devices });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"making key {name}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("key").GetString()!;
    }

    /// <summary>A client of the API host that sends <paramref name="key"/>; the caller disposes it.</summary>
    public HttpClient ClientWithKey(string? key) =>
        key is null ? new HttpClient { BaseAddress = Http.BaseAddress, Timeout = Http.Timeout } : Api.CreateClient(Http.Timeout, key);

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}

/// <summary>JSON requests of the end-to-end tests.</summary>
public static class HttpJson
{
    /// <summary>POSTs <paramref name="json"/> to <paramref name="path"/> (relative to the client's base address).</summary>
    public static async Task<HttpResponseMessage> PostJsonAsync(this HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return await http.PostAsync(new Uri(path, UriKind.Relative), content);
    }

    /// <summary>
    /// POST /api/jobs as a careful client does: with an idempotency key, repeating the request
    /// after a 503 (a grain call that timed out on a starved machine) for up to 30 s. Returns the
    /// job's id; the job must have been created exactly once under that key.
    /// </summary>
    public static async Task<string> SubmitJobAsync(this HttpClient http, string body)
    {
        var key = $"k{Guid.NewGuid():N}";
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/jobs", UriKind.Relative))
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", key);
            using var response = await http.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                continue;
            }

            // 201 for the request that created it; 200 when a repeat finds the job an earlier, unanswered try created.
            Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK,
                $"submit answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        }
    }
}

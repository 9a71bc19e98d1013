using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd.Contract;

/// <summary>
/// Every endpoint of the served document gets thousands of generated malformed requests: none may
/// answer 5xx, every 4xx the application answers is a problem body, and jobs nobody addressed (one
/// paused, one running) are left exactly as they were.
/// </summary>
[Collection(ContractCollection.Name)]
public sealed class ApiFuzzTests(ContractFixture fixture, ITestOutputHelper output)
{
    private const int RequestsPerEndpoint = 1500;

    /// <summary>One fuzz test per operation; a new endpoint fails <see cref="EveryEndpoint_HasAFuzzTest"/> until it is listed here.</summary>
    private static readonly string[] EndpointIds =
    [
        "SubmitJob", "ListJobs", "GetJob", "DeleteJob", "CancelJob", "KillJob", "PauseJob", "ResumeJob", "RestartJob", "ForceFailJob",
        "GetJobJournal", "ClaimJob", "ReportHeartbeat", "ReportProgress", "ReportMessages", "ReportComplete", "ReportFail", "ReportRelease",
        "GetRecoveryStatus", "TriggerRecovery", "Liveness", "Readiness", "GetJobOperations",
        "CreateLibrary", "ListLibraries", "GetLibrary", "UpdateLibrary", "DeleteLibrary", "GetLibraryCatalog",
        "RegisterDevice", "ListDevices", "GetDevice", "UpdateDevice", "RemoveDevice", "DeviceHeartbeat", "DeviceFault", "RequestDeviceCheck",
        "GetRetentionStatus", "RunRetention", "PurgeJobs", "PurgeJob", "EmergencyCleanup", "GetSafeguardsStatus", "GetValidatorStatus", "RunValidator",
        "ExportArchive", "ImportArchive", "CreateApiKey", "ListApiKeys", "GetApiKey", "RevokeApiKey",
        "StreamEvents", "StreamJobEvents",
    ];

    public static TheoryData<string> Endpoints { get; } = new(EndpointIds);

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static (string Paused, string Running)? _bystanders;

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task EveryEndpoint_HasAFuzzTest()
    {
        var documented = OpenApiDocument.Operations(await OpenApiDocument.GetAsync(Http)).Select(o => o.Id).Order(StringComparer.Ordinal);
        Assert.Equal(EndpointIds.Order(StringComparer.Ordinal), documented);
    }

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task MalformedRequests_AreRefusedAs4xxProblems_AndChangeNoOtherJob(string operationId)
    {
        var document = await OpenApiDocument.GetAsync(Http);
        var (_, method, path, operation) = OpenApiDocument.Operations(document).Single(o => o.Id == operationId);
        var (paused, running) = await BystandersAsync();
        var before = await SnapshotAsync(paused, running);

        var seed = operationId.Aggregate(17, (hash, c) => (hash * 31) + c);
        var random = new Random(seed);
        var ids = Enumerable.Range(0, 6).Select(_ => new Guid(random.Next(), 0, 0, new byte[8]).ToString()).Append("no-such-job").ToList();
        var fuzzer = new RequestFuzzer(document, method, path, operation, ids);
        var requests = Enumerable.Range(0, RequestsPerEndpoint).Select(_ => fuzzer.Next(random)).ToList();

        var failures = new ConcurrentQueue<string>();
        var statuses = new ConcurrentDictionary<int, int>();
        var clock = Stopwatch.StartNew();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 4 }) { BaseAddress = Http.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = Http.DefaultRequestHeaders.Authorization;
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (request, _) =>
        {
            var (status, problem) = await SendAsync(http, request);
            statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            if (problem is not null)
            {
                failures.Enqueue($"{problem}\n    request: {request}");
            }
        });

        output.WriteLine($"{operationId}: {requests.Count} requests in {clock.Elapsed.TotalSeconds:0.0} s, seed {seed}; statuses " +
            string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}")));
        Assert.True(failures.IsEmpty, $"{failures.Count} of {requests.Count} requests to {operationId} went wrong (seed {seed}):\n" + string.Join("\n", failures.Take(15)));
        Assert.Equal(before, await SnapshotAsync(paused, running));
    }

    /// <summary>The status, and what is wrong with the answer (null when nothing is).</summary>
    private static async Task<(int Status, string? Problem)> SendAsync(HttpClient http, FuzzRequest fuzz)
    {
        using var request = new HttpRequestMessage(new HttpMethod(fuzz.Method), new Uri(fuzz.PathAndQuery, UriKind.Relative));
        if (fuzz.Body is not null)
        {
            request.Content = new ByteArrayContent(fuzz.Body);
            request.Content.Headers.Remove("Content-Type");
            if (fuzz.ContentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", fuzz.ContentType);
            }
        }

        foreach (var (name, value) in fuzz.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            var status = (int)response.StatusCode;
            if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
            {
                // A stream never ends by itself: its opening (up to the first blank line) is enough, within a bound.
                return (status, status == 200 ? await EventStreamOpeningProblemAsync(response) : $"{status} answered as an event stream");
            }

            var body = await response.Content.ReadAsStringAsync();
            if (status >= 500)
            {
                return (status, $"{status}: {body[..Math.Min(body.Length, 500)]}");
            }

            // Kestrel itself refuses what is not HTTP it accepts (a NUL in the path, say) with an empty
            // 400 and a closed connection, before the application sees the request.
            var refusedByServer = body.Length == 0 && response.Headers.ConnectionClose == true;
            if (status >= 400 && !refusedByServer && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                return (status, $"{status} answered as {response.Content.Headers.ContentType?.MediaType ?? "no content type"}: {body[..Math.Min(body.Length, 300)]}");
            }

            return (status, null);
        }
        catch (HttpRequestException) when (fuzz.Body?.Length > 256 * 1024)
        {
            // Refused before the upload ended: the server may close the connection under a sender of an oversize body.
            return (0, null);
        }
        catch (HttpRequestException ex)
        {
            return (0, $"no answer: {ex.Message}");
        }
    }

    /// <summary>What is wrong with the opening of an event stream (null when nothing is): it must come within seconds.</summary>
    private static async Task<string?> EventStreamOpeningProblemAsync(HttpResponseMessage response)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var reader = new StreamReader(body, Encoding.UTF8);
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    return null;
                }
            }

            return "the event stream ended before its opening";
        }
        catch (OperationCanceledException)
        {
            return "the event stream sent no opening within 10 s";
        }
    }

    /// <summary>A paused and a running job, made once for all the fuzz tests; nothing ever addresses them.</summary>
    private async Task<(string Paused, string Running)> BystandersAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_bystanders is { } made)
            {
                return made;
            }

            var paused = await Http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 1000000, "itemMs": 50}}""");
            var running = await Http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 1000000, "itemMs": 50}}""");
            await Wait.UntilAsync("the first bystander to make progress", async () =>
                (await GetJobAsync(paused)).GetProperty("progress").GetProperty("processed").GetInt64() > 0);
            using (var pause = await Http.PostJsonAsync($"/api/jobs/{paused}/pause", ""))
            {
                Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
            }

            var version = (await Wait.ForAsync("the bystander to be paused", () => GetJobAsync(paused), j => j.GetProperty("status").GetString() == "Paused"))
                .GetProperty("version").GetInt64();
            await Wait.UntilAsync("the journal of the paused bystander to catch up", async () =>
                await fixture.Database.ScalarAsync<long>("SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", paused)) >= version);
            return (_bystanders = (paused, running)).Value;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>The paused job byte for byte, with its journal; the running job's status and journal (its progress moves on).</summary>
    private async Task<string> SnapshotAsync(string paused, string running)
    {
        var text = new StringBuilder();
        text.AppendLine(await Http.GetStringAsync(new Uri($"/api/jobs/{paused}", UriKind.Relative)));
        text.AppendLine(await Http.GetStringAsync(new Uri($"/api/jobs/{paused}/journal", UriKind.Relative)));
        text.AppendLine((await GetJobAsync(running)).GetProperty("status").GetString());
        text.AppendLine(await Http.GetStringAsync(new Uri($"/api/jobs/{running}/journal", UriKind.Relative)));
        return text.ToString();
    }

    private async Task<JsonElement> GetJobAsync(string id) => await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));
}

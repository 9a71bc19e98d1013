using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace OrleansJobs.Tests.EndToEnd.Contract;

/// <summary>Defects found from outside the API, each pinned by the request that showed it.</summary>
[Collection(ContractCollection.Name)]
public sealed partial class ApiDefectTests(ContractFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Theory]
    [InlineData("%20")]
    [InlineData("%20%20%09")]
    [InlineData("a%01b")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task UnusableId_Is400NamingId_OnEveryRouteWithAnId(string id)
    {
        var document = await OpenApiDocument.GetAsync(Http);
        var routes = OpenApiDocument.Operations(document).Where(o => o.Path.Contains("{id}", StringComparison.Ordinal)).ToList();
        Assert.True(routes.Count >= 14, $"only {routes.Count} routes with an id in the document");

        foreach (var (operationId, method, path, _) in routes)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path.Replace("{id}", id, StringComparison.Ordinal), UriKind.Relative));
            if (method == "POST")
            {
                // A body the route takes, so that only the id is wrong (the binder refuses a bad body before the id is checked).
                request.Content = new StringContent(operationId switch
                {
                    "ReportMessages" => """{"leaseToken": "t", "messages": [{"level": "info", "text": "x"}]}""",
                    "ReportFail" => """{"leaseToken": "t", "error": "e"}""",
                    "DeviceHeartbeat" => """{"agentId": "a"}""",
                    "DeviceFault" => """{"agentId": "a", "text": "t"}""",
                    _ when operationId.StartsWith("Report", StringComparison.Ordinal) => """{"leaseToken": "t"}""",
                    _ => "{}",
                }, System.Text.Encoding.UTF8, "application/json");
            }

            using var response = await Http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{operationId} {method} {path} with id '{id}': {(int)response.StatusCode} {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty("id", out _), $"{operationId}: no error for 'id' in {body}");
        }
    }

    /// <summary>Found by the fuzz test: a byte that is not UTF-8 in a property name of free-form JSON was a 500 (the reader checks names only when they become text).</summary>
    [Theory]
    [InlineData("/api/jobs", "{\"type\": \"synthetic\", \"parameters\": {\"a\u00ffb\": 1}}", "parameters")]
    [InlineData("/api/devices", "{\"id\": \"utf8-device\", \"kind\": \"plotter\", \"name\": \"x\", \"settings\": {\"a\u00ffb\": 1}}", "settings")]
    public async Task APropertyNameThatIsNotUtf8_Is400NamingTheField(string path, string json, string field)
    {
        // The name's one character becomes the lone byte 0xFF on the wire: not UTF-8.
        var bytes = System.Text.Encoding.Latin1.GetBytes(json);
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await Http.PostAsync(new Uri(path, UriKind.Relative), content);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)response.StatusCode} {body}");
        Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}' in {body}");
    }

    /// <summary>Found while testing retention: a start more than 49 days ahead (runAfter allows a year) was a 500, the longest a timer waits being exceeded.</summary>
    [Fact]
    public async Task RunAfterMonthsAhead_WaitsQueued_NotA500()
    {
        var at = DateTimeOffset.UtcNow.AddDays(300);
        using var response = await Http.PostAsync(new Uri("/api/jobs", UriKind.Relative), new StringContent(
            $$"""{"type": "synthetic", "parameters": {"items": 1}, "runAfter": "{{at:O}}"}""", System.Text.Encoding.UTF8, "application/json"));

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {body}");
        var job = JsonDocument.Parse(body).RootElement;
        Assert.Equal("Queued", job.GetProperty("status").GetString());
        using var cancel = await Http.PostAsync(new Uri($"/api/jobs/{job.GetProperty("id").GetString()}/cancel", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
    }

    [Theory]
    [InlineData("type=%00", "type")]
    [InlineData("type=a%00b", "type")]
    [InlineData("status=%00", "status")]
    [InlineData("cursor=MTIzfGEAYg", "cursor")] // "123|a\0b": a cursor whose id carries a NUL
    [InlineData("limit=%00", "limit")]
    public async Task NulInAQueryValue_Is400NamingTheParameter_NotAnOutage(string query, string field)
    {
        using var response = await Http.GetAsync(new Uri($"/api/jobs?{query}", UriKind.Relative));

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{query}: {(int)response.StatusCode} {body}");
        Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}' in {body}");
    }

    [Theory]
    [InlineData("/api/jobs", """{"type": "synthetic\u0000", "parameters": {"items": 1}}""", "type")]
    [InlineData("/api/jobs", """{"type": "synthetic", "parameters": {"items": 1, "note": "a\u0000"}}""", "parameters")]
    [InlineData("/api/jobs", """{"type": "synthetic", "parameters": {"items": 1}, "idempotencyKey": "\ud800"}""", "idempotencyKey")]
    [InlineData("/api/jobs/00000000-0000-0000-0000-000000000001/pause", """{"reason": "\u0000"}""", "reason")]
    [InlineData("/api/workers/claim", """{"workerId": "w\u0000", "types": ["x"]}""", "workerId")]
    [InlineData("/api/jobs/00000000-0000-0000-0000-000000000001/progress", """{"leaseToken": "t", "checkpoint": {"cursor": "\u0000"}}""", "checkpoint.cursor")]
    public async Task TextPostgreSqlCannotStore_Is400NamingTheField(string path, string json, string field)
    {
        using var response = await Http.PostJsonAsync(path, json);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path} {json}: {(int)response.StatusCode} {body}");
        Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}' in {body}");
    }

    [Fact]
    public async Task TemplatedPaths_AreNeverIdentical_AndTheDashboardIsNotDocumented()
    {
        var document = await OpenApiDocument.GetAsync(Http);
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();

        var shapes = paths.GroupBy(p => Parameter().Replace(p, "{}")).Where(g => g.Count() > 1).Select(g => string.Join(", ", g)).ToList();
        Assert.True(shapes.Count == 0, "identical templated paths: " + string.Join("; ", shapes));
        Assert.DoesNotContain(paths, p => p.StartsWith("/dashboard", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Stuck_IsRunningWithoutProgressForItsTypesStallTimeout_InTheListingAndTheRecoveryStatus()
    {
        var calm = await Http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 100000, "itemMs": 50}}""");
        var stalling = await Http.SubmitJobAsync("""{"type": "ext-stalling", "parameters": {}}""");
        using (var claim = await Http.PostJsonAsync("/api/workers/claim", """{"workerId": "w1", "types": ["ext-stalling"], "leaseSeconds": 300}"""))
        {
            Assert.Equal(HttpStatusCode.OK, claim.StatusCode);
        }

        // ext-stalling's stall timeout is 1 s; synthetic keeps the watchdog's 5 min (and makes progress anyway).
        var stuck = await Wait.ForAsync("the claimed ext-stalling job to be listed as stuck",
            async () => await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/jobs?stuck=true", UriKind.Relative)),
            page => page.GetProperty("items").GetArrayLength() > 0);
        Assert.Equal([stalling], stuck.GetProperty("items").EnumerateArray().Select(j => j.GetProperty("id").GetString()!));
        var status = await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/recovery/status", UriKind.Relative));
        Assert.Equal(1, status.GetProperty("stalled").GetInt64());

        foreach (var id in new[] { calm, stalling })
        {
            using var cancel = await Http.PostJsonAsync($"/api/jobs/{id}/kill", "");
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }
    }

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Parameter();
}

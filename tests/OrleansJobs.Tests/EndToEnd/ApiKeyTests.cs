using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>API keys over their life: made, used on every host, listed without the key, scoped, expired and revoked everywhere.</summary>
public sealed class ApiKeyTests(AuthFixture fixture, ITestOutputHelper output) : IClassFixture<AuthFixture>
{
    private static readonly string[] ReaderRole = ["reader"];

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Revocation_ReachesASecondApiHost_WithinSeconds_AndAKeyMadeOnOneHostWorksOnTheOtherAtOnce()
    {
        var second = await fixture.StartApiHostAsync();
        var key = await fixture.CreateKeyAsync("revoked soon", ["reader"]);
        using var onFirst = fixture.ClientWithKey(key);
        using var onSecond = second.CreateClient(key: key);
        // Made on the first host a moment ago: the second has not read it yet, and reads the keys again for it.
        Assert.Equal(HttpStatusCode.OK, (await onSecond.GetAsync(new Uri("/api/jobs", UriKind.Relative))).StatusCode);

        var id = await IdOfAsync("revoked soon");
        var clock = Stopwatch.StartNew();
        using (var revoke = await Http.DeleteAsync(new Uri($"/api/admin/keys/{id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }

        // The host that revoked it refuses it at once.
        using (var refused = await onFirst.GetAsync(new Uri("/api/jobs", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("revoked", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await Wait.UntilAsync("the second host to refuse the revoked key", async () =>
        {
            using var response = await onSecond.GetAsync(new Uri("/api/jobs", UriKind.Relative));
            return response.StatusCode == HttpStatusCode.Unauthorized;
        }, TimeSpan.FromSeconds(5));
        output.WriteLine($"revoked on host 1, refused by host 2 after {clock.ElapsedMilliseconds} ms");

        // Revoking again keeps the first revocation; the listing shows it, never a key or a hash.
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync(new Uri($"/api/admin/keys/{id}", UriKind.Relative))).StatusCode);
        var listing = await Http.GetStringAsync(new Uri("/api/admin/keys", UriKind.Relative));
        Assert.DoesNotContain(key, listing, StringComparison.Ordinal);
        Assert.DoesNotContain("sha256", listing, StringComparison.OrdinalIgnoreCase);
        var listed = JsonDocument.Parse(listing).RootElement.GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("id").GetString() == id);
        Assert.NotEqual(JsonValueKind.Null, listed.GetProperty("revokedAt").ValueKind);
        Assert.Equal("api:config:test-admin", listed.GetProperty("revokedBy").GetString());
        Assert.Equal(1, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM api_keys WHERE key_id = @id AND revoked_at IS NOT NULL", ("id", id)));
    }

    [Fact]
    public async Task WorkerKey_ClaimsAndReportsOnlyInItsScope_AndARefusalLeavesTheJobAsItWas()
    {
        var key = await fixture.CreateKeyAsync("scoped worker", ["worker"], jobTypes: ["auth-remote"]);
        using var worker = fixture.ClientWithKey(key);
        var other = await Http.SubmitJobAsync("""{"type": "auth-other", "parameters": {}}""");

        using (var claim = await worker.PostJsonAsync("/api/workers/claim", """{"workerId": "w1", "types": ["auth-other"]}"""))
        {
            Assert.Equal(HttpStatusCode.Forbidden, claim.StatusCode);
            Assert.Contains("auth-other", await claim.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // An admin claims it; the worker key cannot report on it, even with the lease token.
        using var claimed = await Http.PostJsonAsync("/api/workers/claim", """{"workerId": "admin-worker", "types": ["auth-other"]}""");
        var lease = await claimed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(other, lease.GetProperty("jobId").GetString());
        var version = (await JobAsync(other)).GetProperty("version").GetInt64();
        var token = lease.GetProperty("leaseToken").GetString();
        using (var report = await worker.PostJsonAsync($"/api/jobs/{other}/complete", $$"""{"leaseToken": "{{token}}"}"""))
        {
            Assert.Equal(HttpStatusCode.Forbidden, report.StatusCode);
        }

        var after = await JobAsync(other);
        Assert.Equal("Running", after.GetProperty("status").GetString());
        Assert.Equal(version, after.GetProperty("version").GetInt64());

        // In scope: claims and completes its own type, and the journal names the key.
        var mine = await Http.SubmitJobAsync("""{"type": "auth-remote", "parameters": {}}""");
        var ownLease = await Wait.ForAsync("the scoped worker to claim its job", async () =>
        {
            using var response = await worker.PostJsonAsync("/api/workers/claim", """{"workerId": "w1", "types": ["auth-remote"]}""");
            return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonElement>() : default;
        }, l => l.ValueKind == JsonValueKind.Object && l.GetProperty("jobId").GetString() == mine, TimeSpan.FromSeconds(20));
        using (var done = await worker.PostJsonAsync($"/api/jobs/{mine}/complete", $$"""{"leaseToken": "{{ownLease.GetProperty("leaseToken").GetString()}}"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        }

        // Heartbeats only for a device it names (it names none).
        using var heartbeat = await worker.PostJsonAsync("/api/devices/auth-dev/heartbeat", """{"agentId": "a"}""");
        Assert.Equal(HttpStatusCode.Forbidden, heartbeat.StatusCode);
    }

    [Fact]
    public async Task Submissions_NameTheKey_InTheJournal()
    {
        var key = await fixture.CreateKeyAsync("journal operator", ["operator"]);
        using var operatorClient = fixture.ClientWithKey(key);
        var job = await operatorClient.SubmitJobAsync("""{"type": "auth-remote", "parameters": {}}""");
        var id = await IdOfAsync("journal operator");
        var actor = await Wait.ForAsync("the submission's journal entry", () => fixture.Database.ScalarAsync<string?>(
            "SELECT actor FROM job_journal WHERE job_id = @id AND entry_type = 'submitted'", ("id", job)), a => a is not null, TimeSpan.FromSeconds(10));
        Assert.Equal($"api:{id}", actor);
    }

    [Fact]
    public async Task ExpiredKey_IsRefused_WithItsReason()
    {
        using var made = await Http.PostAsJsonAsync(new Uri("/api/admin/keys", UriKind.Relative),
            new { name = "short-lived", roles = ReaderRole, expiresAt = DateTimeOffset.UtcNow.AddSeconds(2) });
        Assert.Equal(HttpStatusCode.Created, made.StatusCode);
        using var client = fixture.ClientWithKey((await made.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/api/jobs", UriKind.Relative))).StatusCode);
        var refused = await Wait.ForAsync("the key to expire", () => client.GetAsync(new Uri("/api/jobs", UriKind.Relative)),
            r => r.StatusCode == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(10));
        Assert.Contains("expired", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"name": "x", "roles": []}""", "roles")]
    [InlineData("""{"name": "x", "roles": ["root"]}""", "roles")]
    [InlineData("""{"name": "x", "roles": ["reader", "reader"]}""", "roles")]
    [InlineData("""{"name": "x", "roles": ["worker"]}""", "jobTypes")]
    [InlineData("""{"name": "x", "roles": ["reader"], "devices": ["d"]}""", "devices")]
    [InlineData("""{"name": "x", "roles": ["reader"], "expiresAt": "2001-01-01T00:00:00Z"}""", "expiresAt")]
    [InlineData("""{"name": "", "roles": ["reader"]}""", "name")]
    [InlineData("""{"roles": ["reader"]}""", "name")]
    public async Task InvalidKey_IsRefused_NamingTheField_AndNothingIsStored(string body, string field)
    {
        var before = await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM api_keys");
        using var response = await Http.PostJsonAsync("/api/admin/keys", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"{body}: {errors}");
        Assert.Equal(before, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM api_keys"));
    }

    [Fact]
    public async Task ConfiguredKey_IsListed_ButCannotBeRevokedOverTheApi_UnknownKeysAre404_AndMalformedIds400()
    {
        var listed = (await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/admin/keys", UriKind.Relative))).GetProperty("keys");
        var configured = listed.EnumerateArray().First();
        Assert.Equal("config:test-admin", configured.GetProperty("id").GetString());
        Assert.Equal("configuration", configured.GetProperty("source").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await Http.DeleteAsync(new Uri("/api/admin/keys/config:test-admin", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(new Uri("/api/jobs", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.DeleteAsync(new Uri("/api/admin/keys/key-0000000000000000", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync(new Uri("/api/admin/keys/key-0000000000000000", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.DeleteAsync(new Uri("/api/admin/keys/key-0000", UriKind.Relative))).StatusCode);
    }

    private async Task<string> IdOfAsync(string name) =>
        (await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/admin/keys", UriKind.Relative))).GetProperty("keys").EnumerateArray()
            .Single(k => k.GetProperty("name").GetString() == name).GetProperty("id").GetString()!;

    private async Task<JsonElement> JobAsync(string id) => await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));
}

using System.Net;
using System.Text;
using System.Text.Json;
using OrleansJobs.Tests.EndToEnd.Contract;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>A silo with one external job type (for worker keys) and the API host.</summary>
public sealed class AuthFixture() : ApiSystemFixture("auth", new Dictionary<string, string>
{
    ["ExternalJobTypes__auth-remote__MinLeaseDuration"] = "00:00:01",
    ["ExternalJobTypes__auth-other__MinLeaseDuration"] = "00:00:01",
});

/// <summary>
/// Every operation of the served document against every role: the rule of each is written here,
/// so an operation without one fails <see cref="EveryOperation_HasARule_AndTheDocumentSaysTheSame"/>;
/// a refused request answers 401 or 403 as a problem and changes nothing stored.
/// </summary>
public sealed class AuthMatrixTests(AuthFixture fixture, ITestOutputHelper output) : IClassFixture<AuthFixture>
{
    private const string Anyone = "anyone";
    private const string OperatorOrWorker = "operator|worker";

    /// <summary>The role each operation needs: the product's rules, restated independently of its code.</summary>
    private static readonly Dictionary<string, string> Rules = new(StringComparer.Ordinal)
    {
        ["Liveness"] = Anyone,
        ["Readiness"] = "reader",
        ["SubmitJob"] = "operator", ["ListJobs"] = "reader", ["GetJob"] = "reader", ["DeleteJob"] = "operator",
        ["CancelJob"] = "operator", ["KillJob"] = "operator", ["PauseJob"] = "operator", ["ResumeJob"] = "operator",
        ["RestartJob"] = "operator", ["ForceFailJob"] = "operator", ["GetJobJournal"] = "reader", ["GetJobOperations"] = "reader",
        ["ClaimJob"] = "worker", ["ReportHeartbeat"] = "worker", ["ReportProgress"] = "worker", ["ReportMessages"] = "worker",
        ["ReportComplete"] = "worker", ["ReportFail"] = "worker", ["ReportRelease"] = "worker",
        ["GetRecoveryStatus"] = "reader", ["TriggerRecovery"] = "admin",
        ["CreateLibrary"] = "operator", ["ListLibraries"] = "reader", ["GetLibrary"] = "reader", ["UpdateLibrary"] = "operator",
        ["DeleteLibrary"] = "operator", ["GetLibraryCatalog"] = "reader",
        ["RegisterDevice"] = OperatorOrWorker, ["ListDevices"] = "reader", ["GetDevice"] = "reader", ["UpdateDevice"] = "operator",
        ["RemoveDevice"] = "operator", ["DeviceHeartbeat"] = "worker", ["DeviceFault"] = "worker", ["RequestDeviceCheck"] = "operator",
        ["GetRetentionStatus"] = "admin", ["RunRetention"] = "admin", ["PurgeJobs"] = "admin", ["PurgeJob"] = "admin",
        ["EmergencyCleanup"] = "admin", ["GetSafeguardsStatus"] = "admin", ["GetValidatorStatus"] = "admin", ["RunValidator"] = "admin",
        ["ExportArchive"] = "admin", ["ImportArchive"] = "admin",
        ["CreateApiKey"] = "admin", ["ListApiKeys"] = "admin", ["GetApiKey"] = "admin", ["RevokeApiKey"] = "admin",
        ["StreamEvents"] = "reader", ["StreamJobEvents"] = "reader",
    };

    private static readonly string[] Callers = ["none", "reader", "operator", "worker", "admin"];

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task EveryOperation_HasARule_AndTheDocumentSaysTheSame()
    {
        var operations = OpenApiDocument.Operations(await OpenApiDocument.GetAsync(Http)).ToList();
        Assert.Equal(Rules.Keys.Order(StringComparer.Ordinal), operations.Select(o => o.Id).Order(StringComparer.Ordinal));
        foreach (var (id, _, _, operation) in operations)
        {
            var declared = operation.TryGetProperty("x-required-role", out var role) ? role.GetString() : Anyone;
            Assert.True(Rules[id] == declared, $"{id}: the document says {declared}, the rule is {Rules[id]}");
            Assert.Equal(Rules[id] == Anyone, operation.GetProperty("security").GetArrayLength() == 0);
        }
    }

    [Fact]
    public async Task EachRole_GetsExactlyWhatItsRulesAllow_AndRefusalsAreProblems_ThatChangeNothing()
    {
        var keys = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["none"] = null,
            ["reader"] = await fixture.CreateKeyAsync("matrix reader", ["reader"]),
            ["operator"] = await fixture.CreateKeyAsync("matrix operator", ["operator"]),
            ["worker"] = await fixture.CreateKeyAsync("matrix worker", ["worker"], jobTypes: ["auth-remote"], devices: ["auth-dev"]),
            ["admin"] = fixture.Api.AdminKey,
        };
        // A job the worker key's scope covers, so that its reports reach the job (409: not leased) instead of the scope's 403.
        var job = await Http.SubmitJobAsync("""{"type": "auth-remote", "parameters": {}}""");
        var operations = OpenApiDocument.Operations(await OpenApiDocument.GetAsync(Http)).ToList();
        var refused = new List<(string Caller, string Operation, string Method, string Path)>();
        var allowed = new List<(string Caller, string Operation, string Method, string Path)>();
        foreach (var (id, method, path, _) in operations)
        {
            var target = path.Replace("{id}", id.StartsWith("Report", StringComparison.Ordinal) ? job : id.Contains("Device", StringComparison.Ordinal) ? "auth-dev" : "auth-x", StringComparison.Ordinal);
            foreach (var caller in Callers)
            {
                (Allows(Rules[id], caller) ? allowed : refused).Add((caller, id, method, target));
            }
        }

        var before = await StoredAsync();
        var failures = new List<string>();
        foreach (var (caller, id, method, path) in refused)
        {
            using var response = await SendAsync(keys[caller], method, path);
            var expected = caller == "none" ? HttpStatusCode.Unauthorized : HttpStatusCode.Forbidden;
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != expected || response.Content.Headers.ContentType?.MediaType != "application/problem+json"
                || JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32() != (int)expected)
            {
                failures.Add($"{caller} {id} {method} {path}: {(int)response.StatusCode} {body}");
            }

            if (caller == "none" && !response.Headers.WwwAuthenticate.ToString().StartsWith("Bearer", StringComparison.Ordinal))
            {
                failures.Add($"{id}: a 401 without a Bearer challenge ({response.Headers.WwwAuthenticate})");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(before, await StoredAsync());

        foreach (var (caller, id, method, path) in allowed)
        {
            using var response = await SendAsync(keys[caller], method, path);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                failures.Add($"{caller} {id} {method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        output.WriteLine($"{refused.Count} refused and {allowed.Count} allowed requests over {operations.Count} operations");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task UnknownGarbledAndMissingKeys_Answer401_OnEveryKindOfEndpoint_ButLivenessNeedsNone()
    {
        using var anonymous = fixture.ClientWithKey(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);
        foreach (var path in new[] { "/health/ready", "/openapi/v1.json", "/metrics", "/api/jobs", "/api/admin/keys" })
        {
            foreach (var header in new[] { null, "Bearer ojk_unknown", "Bearer ", "Basic !!!", "Token abc", $"Bearer {fixture.Api.AdminKey}x" })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
                if (header is not null)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", header);
                }

                using var response = await anonymous.SendAsync(request);
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{path} with '{header}': {(int)response.StatusCode}");
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }

        // The other header works as well as a bearer token.
        using var viaHeader = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/jobs", UriKind.Relative));
        viaHeader.Headers.Add("X-Api-Key", await fixture.CreateKeyAsync("x-api-key reader", ["reader"]));
        Assert.Equal(HttpStatusCode.OK, (await anonymous.SendAsync(viaHeader)).StatusCode);
    }

    [Fact]
    public async Task GeneratedHostileCredentials_Are401Problems_OrRefusedByKestrel_AndCreateNothing()
    {
        var random = new Random(20261130);
        var submissions = await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM job_index");
        var targets = new[] { ("GET", "/api/jobs"), ("POST", "/api/jobs"), ("GET", "/dashboard/"), ("GET", "/metrics"), ("DELETE", "/api/admin/keys/config:test-admin") };
        var failures = new List<string>();
        // Latin-1 bytes on the wire, as a hostile client may send them.
        using var http = new HttpClient(new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1 }) { BaseAddress = Http.BaseAddress };
        for (var i = 0; i < 600; i++)
        {
            var (header, value) = HostileCredential(random, fixture.Api.AdminKey);
            var (method, path) = targets[i % targets.Length];
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
            request.Headers.TryAddWithoutValidation(header, value);
            if (method == "POST")
            {
                request.Content = new StringContent("""{"type": "auth-remote", "parameters": {}}""", Encoding.UTF8, "application/json");
            }

            using var response = await http.SendAsync(request);
            if (!value.All(char.IsAscii))
            {
                // Kestrel refuses bytes outside ASCII in a header before any of the API runs (an empty 400).
                if (response.StatusCode != HttpStatusCode.BadRequest)
                {
                    failures.Add($"{method} {path} with a non-ASCII {header}: {(int)response.StatusCode}");
                }
            }
            else if (response.StatusCode != HttpStatusCode.Unauthorized || response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                failures.Add($"{method} {path} with {header}: {value[..Math.Min(80, value.Length)]}: {(int)response.StatusCode}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.Equal(submissions, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM job_index"));
    }

    [Fact]
    public async Task Dashboard_AsksABrowserForTheKey_RefusesAReader_AndOpensForAnAdminsBasicPassword()
    {
        using var browser = fixture.ClientWithKey(null);
        using var asked = await browser.GetAsync(new Uri("/dashboard", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, asked.StatusCode);
        Assert.StartsWith("Basic realm=\"OrleansJobs\"", asked.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);

        using var reader = await SendAsync(null, "GET", "/dashboard", basic: await fixture.CreateKeyAsync("dashboard reader", ["reader"]));
        Assert.Equal(HttpStatusCode.Forbidden, reader.StatusCode);

        // The page itself (a redirect from /dashboard would drop the header in HttpClient; a browser sends it again).
        using var admin = await SendAsync(null, "GET", "/dashboard/", basic: fixture.Api.AdminKey);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        Assert.Contains("<html", await admin.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A credential that must not pass: garbage, near misses of the admin key, malformed schemes, odd lengths and bytes.</summary>
    private static (string Header, string Value) HostileCredential(Random random, string adminKey)
    {
        string Text(int length, bool latin1 = false) => new([.. Enumerable.Range(0, length).Select(_ =>
            latin1 && random.Next(4) == 0 ? (char)random.Next(0xA0, 0x100) : (char)random.Next(0x21, 0x7F))]);
        var nearMiss = random.Next(4) switch
        {
            0 => adminKey[..^1],
            1 => adminKey + "=",
            2 => adminKey.ToUpperInvariant(),
            _ => adminKey[..^1] + (adminKey[^1] == 'a' ? 'b' : 'a'),
        };
        var basic = Convert.ToBase64String(random.Next(3) switch
        {
            0 => Encoding.UTF8.GetBytes($"{Text(5)}:{nearMiss}"),
            1 => Encoding.UTF8.GetBytes(nearMiss), // no colon
            _ => [.. Enumerable.Range(0, random.Next(1, 64)).Select(_ => (byte)random.Next(256))],
        });
        return random.Next(9) switch
        {
            0 => ("Authorization", "Bearer " + Text(random.Next(1, 200), latin1: true)),
            1 => ("Authorization", "Bearer " + nearMiss),
            2 => ("Authorization", "Basic " + basic),
            3 => ("Authorization", "Basic " + Text(random.Next(1, 40))),
            4 => ("Authorization", Text(random.Next(1, 30)) + " " + adminKey),
            5 => ("Authorization", "Bearer " + Text(random.Next(4_000, 8_000))),
            6 => ("X-Api-Key", nearMiss),
            7 => ("X-Api-Key", Text(random.Next(1, 300), latin1: true)),
            _ => ("Authorization", "bearer  " + nearMiss + " " + Text(3)),
        };
    }

    private static bool Allows(string rule, string caller) => rule switch
    {
        Anyone => true,
        _ when caller == "none" => false,
        _ when caller == "admin" => true,
        "reader" => caller is "reader" or "operator",
        "operator" => caller == "operator",
        "worker" => caller == "worker",
        OperatorOrWorker => caller is "operator" or "worker",
        _ => false,
    };

    private async Task<HttpResponseMessage> SendAsync(string? key, string method, string path, string? basic = null)
    {
        using var http = fixture.ClientWithKey(key);
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        if (method is "POST" or "PATCH" or "PUT")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        if (basic is not null)
        {
            request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"browser:{basic}")));
        }

        // Headers only: an allowed export streams an archive this test does not need.
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>What a refused request could have changed: jobs, journals, libraries, devices, keys, grain states.</summary>
    private Task<string> StoredAsync() => fixture.Database.ScalarAsync<string>("""
        SELECT concat_ws('|',
            (SELECT count(*) || ':' || coalesce(sum(state_version), 0) || ':' || coalesce(string_agg(status, ',' ORDER BY job_id), '') FROM job_index),
            (SELECT count(*) FROM job_journal), (SELECT count(*) FROM libraries),
            (SELECT count(*) || ':' || coalesce(sum(version), 0) FROM devices),
            (SELECT count(*) || ':' || count(revoked_at) FROM api_keys),
            (SELECT count(*) FROM grain_state), (SELECT count(*) FROM file_operations))
        """);
}

using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansJobs.Tests.Files;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>A system whose silo allows library roots under <see cref="ArchiveFixture.Base"/>.</summary>
public sealed class ArchiveSystem(string purpose) : ApiSystemFixture(purpose, new Dictionary<string, string> { ["Libraries__AllowedRoots__0"] = ArchiveFixture.Base });

/// <summary>
/// Two systems of their own, each a silo process and the API host on its own database: the source, with a job in
/// every status, a library with an analyze and an organize job, and a device (made once, by the first test that
/// asks); and the target, empty until a test imports into it.
/// </summary>
public sealed class ArchiveFixture : IAsyncLifetime
{
    public static readonly string Base = Path.Combine(Path.GetTempPath(), $"orleansjobs-archive-{Guid.NewGuid():N}"[..40]);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private ArchivePopulation? _population;
    private LibraryTree? _tree;

    public ArchiveSystem Source { get; } = new("archive_source");

    public ArchiveSystem Target { get; } = new("archive_target");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Base);
        await Task.WhenAll(Source.InitializeAsync(), Target.InitializeAsync());
    }

    public async Task DisposeAsync()
    {
        await Task.WhenAll(Source.DisposeAsync(), Target.DisposeAsync());
        _tree?.Dispose();
        _gate.Dispose();
        if (Directory.Exists(Base))
        {
            Directory.Delete(Base, recursive: true);
        }
    }

    /// <summary>The source's jobs, made once: every id by the status it has (Running and Queued ones stay so).</summary>
    public async Task<ArchivePopulation> PopulationAsync()
    {
        await _gate.WaitAsync();
        try
        {
            return _population ??= await PopulateAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<ArchivePopulation> PopulateAsync()
    {
        var http = Source.Http;
        const string Long = """{"type": "synthetic", "parameters": {"items": 100000, "itemMs": 20}, "checkpoint": {"everyItems": 10}}""";
        var completed = await http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 2}}""");
        var failed = await http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 3, "failAtItem": 1}, "maxAttempts": 1}""");
        var cancelled = await http.SubmitJobAsync(Long);
        var killed = await http.SubmitJobAsync(Long);
        var paused = await http.SubmitJobAsync(Long);
        var running = await http.SubmitJobAsync(Long);
        var queued = await http.SubmitJobAsync($$"""{"type": "synthetic", "parameters": {"items": 1}, "runAfter": "{{DateTimeOffset.UtcNow.AddDays(1):O}}"}""");
        foreach (var id in new[] { cancelled, killed, paused, running })
        {
            await Wait.ForAsync($"job {id} to checkpoint", () => GetAsync(http, id), j => j.GetProperty("checkpoint").GetProperty("processed").GetInt64() >= 10);
        }

        await ControlAsync(http, cancelled, "cancel");
        await ControlAsync(http, killed, "kill");
        await ControlAsync(http, paused, "pause");

        var library = "archive-photos";
        _tree = LibraryTree.Generate(Base, library, files: 12, photos: 2);
        using (var created = await http.PostJsonAsync("/api/libraries", $$$"""{"id": "{{{library}}}", "name": "Photos", "root": "{{{_tree.Root}}}", "settings": {"thumbnailSize": 128}}"""))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var analyze = await http.SubmitJobAsync($$"""{"type": "analyze", "library": "{{library}}"}""");
        await WaitForAsync(http, analyze, "Completed");
        var organize = await http.SubmitJobAsync($$$"""{"type": "organize", "library": "{{{library}}}", "parameters": {"target": "organized", "mode": "copy"}}""");
        using (var device = await http.PostJsonAsync("/api/devices", """{"id": "archive-plotter", "kind": "plotter", "name": "A3 plotter", "settings": {"pen": 0.3}}"""))
        {
            Assert.Equal(HttpStatusCode.Created, device.StatusCode);
        }

        var statuses = new Dictionary<string, string>
        {
            [completed] = "Completed", [failed] = "Failed", [cancelled] = "Cancelled", [killed] = "Killed", [paused] = "Paused",
            [running] = "Running", [queued] = "Queued", [analyze] = "Completed", [organize] = "Completed",
        };
        foreach (var (id, status) in statuses)
        {
            var job = await WaitForAsync(http, id, status);
            if (status != "Running")
            {
                var version = job.GetProperty("version").GetInt64();
                await Wait.UntilAsync($"the index and journal of {id} to catch up", async () => await Source.Database.ScalarAsync<long>(
                    "SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", id)) >= version);
            }
        }

        return new ArchivePopulation(statuses, library, "archive-plotter", organize);
    }

    public static async Task<JsonElement> GetAsync(HttpClient http, string id) =>
        await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));

    public static Task<JsonElement> WaitForAsync(HttpClient http, string id, string status) =>
        Wait.ForAsync($"job {id} to be {status}", () => GetAsync(http, id), j => j.GetProperty("status").GetString() == status, TimeSpan.FromSeconds(60));

    public static async Task ControlAsync(HttpClient http, string id, string action)
    {
        using var response = await http.PostJsonAsync($"/api/jobs/{id}/{action}", "{}");
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{action} {id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>GET /api/admin/export with <paramref name="query"/>: the archive's bytes.</summary>
    public static async Task<byte[]> ExportAsync(HttpClient http, string query = "")
    {
        using var response = await http.GetAsync(new Uri($"/api/admin/export{query}", UriKind.Relative));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"export{query}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/gzip", response.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("orleansjobs-export-", response.Content.Headers.ContentDisposition?.FileNameStar ?? response.Content.Headers.ContentDisposition?.FileName);
        return await response.Content.ReadAsByteArrayAsync();
    }

    /// <summary>POST /api/admin/import of <paramref name="archive"/>: the status and the answer.</summary>
    public static async Task<(HttpStatusCode Status, JsonElement Body)> ImportAsync(HttpClient http, byte[] archive, string contentType = "application/gzip")
    {
        using var content = new ByteArrayContent(archive);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var client = http.CloneWithTimeout(TimeSpan.FromMinutes(3));
        using var response = await client.PostAsync(new Uri("/api/admin/import", UriKind.Relative), content);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>The archive's lines, as JSON.</summary>
    public static List<JsonObject> Lines(byte[] archive)
    {
        using var gzip = new GZipStream(new MemoryStream(archive), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        return [.. reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject())];
    }

    /// <summary>Lines as an archive: joined with line feeds and gzip'd.</summary>
    public static byte[] Archive(IEnumerable<string> lines)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"));
        }

        return output.ToArray();
    }
}

/// <summary>The source's jobs by id with their status, its library and device, and its organize job (the one with file operations).</summary>
public sealed record ArchivePopulation(IReadOnlyDictionary<string, string> Statuses, string Library, string Device, string Organize);

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Tests.Files;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>One silo and the API host whose silo allows library roots under <see cref="Base"/>.</summary>
public sealed class LibrariesApiFixture() : ApiSystemFixture("libraries", new Dictionary<string, string> { ["Libraries__AllowedRoots__0"] = Base }), IDisposable
{
    public static readonly string Base = Path.Combine(Path.GetTempPath(), $"orleansjobs-api-libraries-{Guid.NewGuid():N}"[..44]);

    public void Dispose()
    {
        if (Directory.Exists(Base))
        {
            Directory.Delete(Base, recursive: true);
        }
    }
}

/// <summary>Libraries and file jobs over real HTTP: the README's session, and the refusals of bad paths and ids.</summary>
public sealed class LibrariesApiTests(LibrariesApiFixture fixture) : IClassFixture<LibrariesApiFixture>, IDisposable
{
    private readonly List<LibraryTree> _trees = [];

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Session_CreateAnalyzeDryRunOrganizeReadTheLogRevert_LeavesTheTreeAsItWas()
    {
        var (id, tree) = NewTree(files: 30, photos: 4);
        var original = LibraryTree.Snapshot(tree.Root);
        var create = $$"""{"id": "{{id}}", "name": "Photos", "root": "{{tree.Root}}"}""";
        using (var created = await Http.PostJsonAsync("/api/libraries", create))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using (var again = await Http.PostJsonAsync("/api/libraries", create))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        await RunAsync($$"""{"type": "analyze", "library": "{{id}}"}""");
        var photos = await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/libraries/{id}/catalog?prefix=camera/&limit=2", UriKind.Relative));
        Assert.Equal(2, photos.GetProperty("items").GetArrayLength());
        var rest = await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/libraries/{id}/catalog?prefix=camera/&cursor={photos.GetProperty("nextCursor").GetString()}", UriKind.Relative));
        Assert.Equal(2, rest.GetProperty("items").GetArrayLength());
        var duplicates = await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/libraries/{id}/catalog?duplicates=true", UriKind.Relative));
        Assert.True(duplicates.GetProperty("items").GetArrayLength() >= 2);

        var dry = await RunAsync($$$"""{"type": "organize", "library": "{{{id}}}", "parameters": {"target": "organized", "dryRun": true}}""");
        var planned = await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{dry}/operations", UriKind.Relative));
        Assert.Equal(34, planned.GetProperty("totals").GetProperty("planned").GetInt64());
        Assert.Equal(original, LibraryTree.Snapshot(tree.Root));

        var move = await RunAsync($$$"""{"type": "organize", "library": "{{{id}}}", "parameters": {"target": "organized", "mode": "move"}}""");
        var lines = await Http.GetStringAsync(new Uri($"/api/jobs/{move}/operations?format=jsonl", UriKind.Relative));
        var operations = lines.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(34, operations.Count);
        Assert.All(operations, o => Assert.Equal("completed", o.GetProperty("status").GetString()));
        Assert.All(operations, o => Assert.True(File.Exists(Path.Combine(tree.Root, o.GetProperty("target").GetString()!))));

        await RunAsync($$$"""{"type": "revert", "library": "{{{id}}}", "parameters": {"job": "{{{move}}}"}}""");
        Assert.Equal(original, LibraryTree.Snapshot(tree.Root));
        var library = await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/libraries/{id}", UriKind.Relative));
        Assert.Equal(JsonValueKind.Null, library.GetProperty("lockHolder").ValueKind);
        var listed = await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/libraries", UriKind.Relative));
        Assert.Contains(listed.GetProperty("items").EnumerateArray(), l => l.GetProperty("id").GetString() == id);
    }

    [Theory]
    [InlineData("/api/libraries", """{"id": "x1", "name": "n", "root": "/etc"}""", "root")]
    [InlineData("/api/libraries", """{"id": "x2", "name": "n", "root": "BASE/../"}""", "root")]
    [InlineData("/api/libraries", """{"id": "x3", "name": "n", "root": "relative"}""", "root")]
    [InlineData("/api/libraries", """{"id": "Bad Id", "name": "n", "root": "BASE"}""", "id")]
    [InlineData("/api/libraries", """{"id": "x4", "name": "n", "root": "BASE", "settings": {"layout": "{year}/../{name}"}}""", "settings.layout")]
    [InlineData("/api/libraries", """{"id": "x5", "name": "n", "root": "BASE", "settings": {"thumbnailFolder": "/tmp"}}""", "settings.thumbnailFolder")]
    [InlineData("/api/jobs", """{"type": "organize", "library": "LIB", "parameters": {"target": "../outside"}}""", "parameters.target")]
    [InlineData("/api/jobs", """{"type": "organize", "library": "LIB", "parameters": {"target": "/etc"}}""", "parameters.target")]
    [InlineData("/api/jobs", """{"type": "organize", "library": "LIB", "parameters": {"target": "a", "source": "a/b"}}""", "parameters.source")]
    [InlineData("/api/jobs", """{"type": "analyze"}""", "library")]
    [InlineData("/api/jobs", """{"type": "analyze", "library": "no-such-library"}""", "library")]
    [InlineData("/api/jobs", """{"type": "synthetic", "parameters": {"items": 1}, "lockWaitSeconds": 5}""", "lockWaitSeconds")]
    [InlineData("/api/jobs", """{"type": "revert", "library": "LIB", "parameters": {}}""", "parameters.job")]
    [InlineData("/api/jobs", """{"type": "revert", "library": "LIB", "parameters": {"job": "00000000-0000-0000-0000-000000000001"}}""", "parameters.job")]
    public async Task BadPathsIdsAndLibraries_Are400NamingTheField_AndCreateNothing(string path, string body, string field)
    {
        var (id, tree) = NewTree(files: 1, photos: 0);
        using (var created = await Http.PostJsonAsync("/api/libraries", $$"""{"id": "{{id}}", "name": "n", "root": "{{tree.Root}}"}"""))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var before = LibraryTree.Snapshot(LibrariesApiFixture.Base);
        using var response = await Http.PostJsonAsync(path, body.Replace("BASE", LibrariesApiFixture.Base, StringComparison.Ordinal).Replace("LIB", id, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}' in {problem}");
        Assert.Equal(before, LibraryTree.Snapshot(LibrariesApiFixture.Base));
    }

    [Fact]
    public async Task Delete_InUseIs409NamingTheJobs_ForceCancelsThem_ThenTheLibraryIs404()
    {
        var (id, tree) = NewTree(files: 1, photos: 0);
        using (await Http.PostJsonAsync("/api/libraries", $$"""{"id": "{{id}}", "name": "n", "root": "{{tree.Root}}"}"""))
        {
        }

        var holder = await Http.SubmitJobAsync($$$"""{"type": "synthetic", "library": "{{{id}}}", "parameters": {"items": 5000, "itemMs": 10}}""");
        await Wait.UntilAsync("the job to hold the lock", async () =>
            (await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/libraries/{id}", UriKind.Relative))).GetProperty("lockHolder").GetString() == holder);

        using (var refused = await Http.DeleteAsync(new Uri($"/api/libraries/{id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(holder, problem.GetProperty("holders")[0].GetString());
            Assert.Equal(id, problem.GetProperty("libraryId").GetString());
        }

        using (var forced = await Http.DeleteAsync(new Uri($"/api/libraries/{id}?force=true", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, forced.StatusCode);
        }

        var job = await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{holder}", UriKind.Relative));
        Assert.Equal("Cancelled", job.GetProperty("status").GetString());
        using var gone = await Http.GetAsync(new Uri($"/api/libraries/{id}/catalog", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.True(File.Exists(Path.Combine(tree.Root, "inbox/0/0/file-00000.txt")), "deleting a library must never delete its files");
    }

    private (string Id, LibraryTree Tree) NewTree(int files, int photos)
    {
        var id = $"lib-{Guid.NewGuid():N}"[..20];
        Directory.CreateDirectory(LibrariesApiFixture.Base);
        var tree = LibraryTree.Generate(LibrariesApiFixture.Base, id, files, photos);
        _trees.Add(tree);
        return (id, tree);
    }

    private async Task<string> RunAsync(string body)
    {
        var id = await Http.SubmitJobAsync(body);
        var job = await Wait.ForAsync($"job {id} to finish", () => Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative)),
            j => j.GetProperty("status").GetString() is "Completed" or "Failed" or "Cancelled" or "Killed", TimeSpan.FromSeconds(60));
        Assert.True(job.GetProperty("status").GetString() == "Completed", $"job {id}: {job}");
        return id;
    }

    public void Dispose()
    {
        foreach (var tree in _trees)
        {
            tree.Dispose();
        }
    }
}

using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Tests.Files;
using OrleansJobs.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// The post-kill checklist of a file job, empty by construction: silo processes running an organize
/// or an analysis are SIGKILLed mid-run, several times, the job finishes on the survivors, and then
/// the disk is counted: every file in exactly one place, byte-identical, no temporary or empty file,
/// the log's completed rows matching the disk, the catalog matching a fresh walk.
/// </summary>
[RunsFor(40)]
public sealed class FileJobCrashTests(MigratedDatabaseFixture fixture, ITestOutputHelper output) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private readonly string _base = Path.Combine(Path.GetTempPath(), $"orleansjobs-crash-{Guid.NewGuid():N}"[..36]);

    [Fact]
    public async Task OrganizeMove_WhoseSiloIsKilledThreeTimes_LeavesEveryFileInExactlyOnePlace_AndKilledAnalysisAndThumbnailsEndComplete()
    {
        const int Files = 4000;
        const int Photos = 300;
        var settings = new Dictionary<string, string> { ["Libraries__AllowedRoots__0"] = _base };
        await using var cluster = new ProcessCluster(fixture.Database);
        var silos = new List<SiloProcess> { cluster.StartSilo(extra: settings), cluster.StartSilo(extra: settings) };
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(30));
        await ProcessCluster.WaitForReadyAsync(http, silos.Count);

        using var tree = LibraryTree.Generate(_base, "photos", Files, Photos);
        var original = Files_(LibraryTree.Snapshot(tree.Root));
        using (var created = await http.PostJsonAsync("/api/libraries", $$"""{"id": "photos", "name": "Photos", "root": "{{tree.Root}}"}"""))
        {
            created.EnsureSuccessStatusCode();
        }

        // The silo running the job dies; another takes its place, so that two silos run at all times.
        async Task KillAndReplaceAsync(string owner)
        {
            var victim = silos.Single(s => owner.Contains($":{s.SiloPort}@", StringComparison.Ordinal));
            await victim.Process.KillAsync();
            silos.Remove(victim);
            silos.Add(cluster.StartSilo(extra: settings));
        }

        var organize = await http.SubmitJobAsync("""{"type": "organize", "library": "photos", "parameters": {"target": "organized", "mode": "move"}}""");
        for (var kill = 1; kill <= 3; kill++)
        {
            var (owner, at) = await RunningPastAsync(organize, kill * Files / 5);
            await KillAndReplaceAsync(owner);
            output.WriteLine($"kill {kill}: at {at} files");
        }

        var done = await FinishedAsync(http, organize);
        Assert.Equal("Completed", done.GetProperty("status").GetString());

        var after = LibraryTree.Snapshot(tree.Root);
        Assert.DoesNotContain(after, e => e.Key.EndsWith(".orleansjobs-tmp", StringComparison.Ordinal));
        Assert.DoesNotContain(after, e => e.Value.StartsWith("0 ", StringComparison.Ordinal)); // no empty file
        var log = await fixture.Database.QueryAsync(
            "SELECT source_path, target_path, status FROM file_operations WHERE job_id = @id", r => (Source: r.GetString(0), Target: r.GetString(1), Status: r.GetString(2)), ("id", organize));
        Assert.Equal(original.Count, log.Count);
        Assert.All(log, op => Assert.Equal("completed", op.Status));
        var placed = Files_(after);
        Assert.Equal(original.Count, placed.Count); // nothing doubled, nothing lost
        foreach (var op in log)
        {
            Assert.False(placed.ContainsKey(op.Source), $"{op.Source} is at its source and its target");
            Assert.Equal(original[op.Source], placed[op.Target]); // byte-identical
        }

        var journal = await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{organize}/journal", UriKind.Relative));
        Assert.Contains(journal.EnumerateArray(), e => e.GetProperty("type").GetString() == "recovery");

        // An analysis whose silo is killed once ends with the catalog of a fresh walk.
        var analyze = await http.SubmitJobAsync("""{"type": "analyze", "library": "photos", "checkpoint": {"everyItems": 50}}""");
        await KillAndReplaceAsync((await RunningPastAsync(analyze, 1000)).Silo);
        Assert.Equal("Completed", (await FinishedAsync(http, analyze)).GetProperty("status").GetString());
        var catalog = await fixture.Database.QueryAsync(
            "SELECT relative_path, encode(sha256, 'hex') FROM library_catalog WHERE library_id = 'photos' AND removed_at IS NULL", r => (r.GetString(0), r.GetString(1)));
        Assert.Equal(placed.OrderBy(p => p.Key, StringComparer.Ordinal).ToList(), catalog.Select(c => new KeyValuePair<string, string>(c.Item1, c.Item2)).OrderBy(p => p.Key, StringComparer.Ordinal).ToList());

        // Thumbnails whose silo is killed once: every image ends with one thumbnail that decodes, and no temporary file is left.
        var thumbnails = await http.SubmitJobAsync("""{"type": "thumbnails", "library": "photos", "checkpoint": {"everyItems": 20}}""");
        await KillAndReplaceAsync((await RunningPastAsync(thumbnails, 60)).Silo);
        Assert.Equal("Completed", (await FinishedAsync(http, thumbnails)).GetProperty("status").GetString());
        var images = placed.Keys.Where(p => p.EndsWith(".jpg", StringComparison.Ordinal)).ToList();
        Assert.Equal(Photos, images.Count);
        foreach (var image in images)
        {
            using var decoded = SkiaSharp.SKBitmap.Decode(Path.Combine(tree.Root, ".thumbnails", image + ".jpg"));
            Assert.NotNull(decoded);
        }

        Assert.DoesNotContain(Directory.EnumerateFiles(tree.Root, "*", SearchOption.AllDirectories), f => f.EndsWith(".orleansjobs-tmp", StringComparison.Ordinal));
    }

    /// <summary>The silo running job <paramref name="id"/> once the job index shows it past <paramref name="items"/> items, and how far it was.</summary>
    private async Task<(string Silo, long Done)> RunningPastAsync(string id, long items)
    {
        var rows = await Wait.ForAsync($"job {id} to pass {items} items", () => fixture.Database.QueryAsync(
                "SELECT owner_silo, processed FROM job_index WHERE job_id = @id AND status = 'Running'", r => (Silo: r.GetString(0), Done: r.GetInt64(1)), ("id", id)),
            rows => rows.Count == 1 && rows[0].Done >= items, TimeSpan.FromSeconds(60), poll: TimeSpan.FromMilliseconds(20));
        return rows[0];
    }

    /// <summary>Regular files of a snapshot: path → SHA-256.</summary>
    private static Dictionary<string, string> Files_(SortedDictionary<string, string> snapshot) =>
        snapshot.Where(LibraryTree.IsFile)
            .ToDictionary(e => e.Key, e => e.Value.Split(' ')[2], StringComparer.Ordinal);

    private static Task<JsonElement> FinishedAsync(HttpClient http, string id) =>
        Wait.ForAsync($"job {id} to finish", () => http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative)),
            j => j.GetProperty("status").GetString() is "Completed" or "Failed" or "Cancelled" or "Killed", TimeSpan.FromSeconds(120));

    public void Dispose()
    {
        if (Directory.Exists(_base))
        {
            Directory.Delete(_base, recursive: true);
        }
    }
}

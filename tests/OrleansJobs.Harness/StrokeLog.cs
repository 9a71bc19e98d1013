using System.Text.Json;

namespace OrleansJobs.Harness;

/// <summary>One stroke the simulated plotter drew: a line of its stroke log.</summary>
public sealed record DrawnStroke(string Job, int Layer, int Stroke, string Agent, DateTimeOffset At);

/// <summary>Reads the simulated plotter's stroke log (JSON Lines), the paper tests and benchmarks count.</summary>
public static class StrokeLog
{
    /// <summary>The strokes of <paramref name="job"/> in the order they were drawn; a line still being written is left for the next read.</summary>
    public static List<DrawnStroke> Read(string path, string job)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(file);
        var lines = reader.ReadToEnd().Split('\n');
        return [.. lines[..^1].Select(line => JsonDocument.Parse(line).RootElement)
            .Where(s => s.GetProperty("job").GetString() == job)
            .Select(s => new DrawnStroke(job, s.GetProperty("layer").GetInt32(), s.GetProperty("stroke").GetInt32(),
                s.GetProperty("agent").GetString()!, s.GetProperty("at").GetDateTimeOffset()))];
    }
}

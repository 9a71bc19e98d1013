using System.Text;
using System.Text.Json;

namespace OrleansJobs.PlotterAgent;

/// <summary>One line of the stroke log: a stroke the plotter drew.</summary>
public sealed record StrokeLine(string Job, int Layer, int Stroke, string Agent, DateTimeOffset At);

/// <summary>
/// What the simulated plotter put on paper: one JSON line per stroke drawn, appended and flushed
/// to the operating system at once (a killed agent loses none; no fsync: a crashed machine may).
/// </summary>
public sealed class StrokeLog : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly string _path;
    private readonly FileStream _file;

    public StrokeLog(string path)
    {
        _path = path;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var endsMidLine = EndsMidLine(path);
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        if (endsMidLine)
        {
            // A process killed in the middle of a write left half a line: the next stroke starts on its own line.
            _file.WriteByte((byte)'\n');
            _file.Flush();
        }
    }

    /// <summary>Appends the stroke and hands it to the operating system before returning.</summary>
    public void Append(StrokeLine stroke)
    {
        var line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(stroke, Json) + "\n");
        lock (_file)
        {
            _file.Write(line);
            _file.Flush();
        }
    }

    /// <summary>The strokes of <paramref name="job"/> drawn at or after <paramref name="from"/>: what is drawn again when the job resumes there.</summary>
    public int CountFrom(string job, StrokeCursor from)
    {
        var count = 0;
        using var reader = new StreamReader(new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        while (reader.ReadLine() is { } text)
        {
            if (!text.Contains(job, StringComparison.Ordinal))
            {
                continue; // another job's: not worth parsing
            }

            StrokeLine? line;
            try
            {
                line = JsonSerializer.Deserialize<StrokeLine>(text, Json);
            }
            catch (JsonException)
            {
                continue; // half a line left by a kill
            }

            if (line?.Job == job && new StrokeCursor(line.Layer, line.Stroke) >= from)
            {
                count++;
            }
        }

        return count;
    }

    public void Dispose() => _file.Dispose();

    private static bool EndsMidLine(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (file.Length == 0)
        {
            return false;
        }

        file.Seek(-1, SeekOrigin.End);
        return file.ReadByte() != '\n';
    }
}

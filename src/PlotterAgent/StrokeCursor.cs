using System.Globalization;

namespace OrleansJobs.PlotterAgent;

/// <summary>A stroke of a plot, 0-based: as a job's cursor (<c>"layer:stroke"</c>), the next stroke to draw.</summary>
public readonly record struct StrokeCursor(int Layer, int Stroke) : IComparable<StrokeCursor>
{
    public static StrokeCursor Start { get; }

    public static bool operator <(StrokeCursor left, StrokeCursor right) => left.CompareTo(right) < 0;

    public static bool operator >(StrokeCursor left, StrokeCursor right) => left.CompareTo(right) > 0;

    public static bool operator <=(StrokeCursor left, StrokeCursor right) => left.CompareTo(right) <= 0;

    public static bool operator >=(StrokeCursor left, StrokeCursor right) => left.CompareTo(right) >= 0;

    /// <summary>A checkpoint's cursor (null: the start); throws <see cref="FormatException"/> when it is not a stroke of <paramref name="plot"/> or its end.</summary>
    public static StrokeCursor Parse(string? cursor, PlotParameters plot)
    {
        if (cursor is null)
        {
            return Start;
        }

        var parts = cursor.Split(':');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var layer)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var stroke)
            && (layer < plot.Layers ? stroke < plot.StrokesPerLayer : layer == plot.Layers && stroke == 0))
        {
            return new StrokeCursor(layer, stroke);
        }

        throw new FormatException($"the checkpoint's cursor '{cursor}' is not a stroke of {plot.Layers} layers of {plot.StrokesPerLayer} strokes");
    }

    /// <summary>Strokes before this one.</summary>
    public long Index(PlotParameters plot) => ((long)Layer * plot.StrokesPerLayer) + Stroke;

    public StrokeCursor Next(PlotParameters plot) => Stroke + 1 < plot.StrokesPerLayer ? this with { Stroke = Stroke + 1 } : new StrokeCursor(Layer + 1, 0);

    public int CompareTo(StrokeCursor other) => Layer != other.Layer ? Layer.CompareTo(other.Layer) : Stroke.CompareTo(other.Stroke);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Layer}:{Stroke}");
}

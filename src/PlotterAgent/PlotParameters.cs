using System.Text.Json;

namespace OrleansJobs.PlotterAgent;

/// <summary>What a <c>plot</c> job draws: <c>layers</c> (1-100, default 3) of <c>strokesPerLayer</c> (1-100,000, default 100) strokes of <c>strokeMs</c> each (0-10,000, default 20).</summary>
public sealed record PlotParameters(int Layers, int StrokesPerLayer, int StrokeMs)
{
    private static readonly (string Name, int Default, int Min, int Max)[] Members =
        [("layers", 3, 1, 100), ("strokesPerLayer", 100, 1, 100_000), ("strokeMs", 20, 0, 10_000)];

    public long TotalStrokes => (long)Layers * StrokesPerLayer;

    /// <summary>The job's parameters; throws <see cref="FormatException"/> naming the member that is wrong, which fails the attempt with that message.</summary>
    public static PlotParameters Parse(JsonElement parameters)
    {
        if (parameters.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return new PlotParameters(3, 100, 20);
        }

        if (parameters.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("invalid plot parameters: they must be a JSON object");
        }

        var values = Members.ToDictionary(m => m.Name, m => m.Default, StringComparer.Ordinal);
        foreach (var member in parameters.EnumerateObject())
        {
            var rule = Members.FirstOrDefault(m => m.Name == member.Name);
            if (rule.Name is null)
            {
                throw new FormatException($"invalid plot parameters: unknown member '{member.Name}' (a plot takes layers, strokesPerLayer and strokeMs)");
            }

            if (member.Value.ValueKind != JsonValueKind.Number || !member.Value.TryGetInt32(out var value) || value < rule.Min || value > rule.Max)
            {
                throw new FormatException($"invalid plot parameters: {rule.Name} must be a whole number from {rule.Min} to {rule.Max}, not {member.Value.GetRawText()}");
            }

            values[rule.Name] = value;
        }

        return new PlotParameters(values["layers"], values["strokesPerLayer"], values["strokeMs"]);
    }
}

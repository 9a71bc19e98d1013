using System.Text.Json;

namespace OrleansJobs.Jobs.Synthetic;

/// <summary>
/// Parameters of the <c>synthetic</c> job type: <c>items</c> items of <c>itemMs</c> each, with
/// optional failure at item <c>failAtItem</c>, a hang at item <c>hangAtItem</c>, random failures
/// with probability <c>failProbability</c>, and <c>record</c> (default true) to write each
/// item's effect to the database.
/// </summary>
public sealed record SyntheticParameters(long Items, int ItemMs, long? FailAtItem, long? HangAtItem, double FailProbability, bool Record)
{
    public const long MaxItems = 10_000_000;
    public const int MaxItemMs = 3_600_000;

    private static readonly string[] Known = ["items", "itemMs", "failAtItem", "hangAtItem", "failProbability", "record"];

    public static IReadOnlyList<JobParameterError> Validate(JsonElement parameters)
    {
        var errors = new List<JobParameterError>();
        if (parameters.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("parameters", "must be a JSON object"));
            return errors;
        }

        foreach (var property in parameters.EnumerateObject())
        {
            if (Array.IndexOf(Known, property.Name) < 0)
            {
                errors.Add(new($"parameters.{property.Name}", $"is not a parameter of synthetic jobs (known: {string.Join(", ", Known)})"));
            }
        }

        var items = Integer(parameters, "items", 0, MaxItems, required: true, errors);
        Integer(parameters, "itemMs", 0, MaxItemMs, required: false, errors);
        var upper = items ?? MaxItems;
        Integer(parameters, "failAtItem", 1, upper, required: false, errors);
        Integer(parameters, "hangAtItem", 1, upper, required: false, errors);
        if (parameters.TryGetProperty("failProbability", out var probability) && probability.ValueKind != JsonValueKind.Null
            && (probability.ValueKind != JsonValueKind.Number || !probability.TryGetDouble(out var p) || p is < 0 or > 1 || double.IsNaN(p)))
        {
            errors.Add(new("parameters.failProbability", "must be a number from 0 to 1"));
        }

        if (parameters.TryGetProperty("record", out var record) && record.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
        {
            errors.Add(new("parameters.record", "must be true or false"));
        }

        return errors;
    }

    /// <summary>Reads parameters that passed <see cref="Validate"/>.</summary>
    public static SyntheticParameters Parse(JsonElement parameters)
    {
        var errors = Validate(parameters);
        if (errors.Count > 0)
        {
            throw new ArgumentException($"invalid synthetic parameters: {errors[0].Field} {errors[0].Message}", nameof(parameters));
        }

        return new SyntheticParameters(
            parameters.GetProperty("items").GetInt64(),
            (int)(OptionalLong(parameters, "itemMs") ?? 0),
            OptionalLong(parameters, "failAtItem"),
            OptionalLong(parameters, "hangAtItem"),
            parameters.TryGetProperty("failProbability", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetDouble() : 0,
            !parameters.TryGetProperty("record", out var r) || r.ValueKind != JsonValueKind.False);
    }

    private static long? Integer(JsonElement parameters, string name, long min, long max, bool required, List<JobParameterError> errors)
    {
        if (!parameters.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                errors.Add(new($"parameters.{name}", "is required"));
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number) || number < min || number > max)
        {
            errors.Add(new($"parameters.{name}", $"must be a whole number from {min} to {max}"));
            return null;
        }

        return number;
    }

    private static long? OptionalLong(JsonElement parameters, string name) =>
        parameters.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : null;
}

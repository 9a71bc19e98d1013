using System.Text.Json;
using OrleansJobs.Libraries;

namespace OrleansJobs.Jobs.Files;

/// <summary>Checks of the file job types' parameters: each error names its field (<c>parameters.x</c>).</summary>
internal static class FileJobParameters
{
    /// <summary>The parameters object with only <paramref name="known"/> members; errors otherwise.</summary>
    public static List<JobParameterError> Members(JsonElement parameters, string type, params string[] known)
    {
        var errors = new List<JobParameterError>();
        if (parameters.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("parameters", "must be a JSON object"));
            return errors;
        }

        foreach (var property in parameters.EnumerateObject())
        {
            if (Array.IndexOf(known, property.Name) < 0)
            {
                errors.Add(new($"parameters.{property.Name}", known.Length == 0
                    ? $"is not a parameter of {type} jobs (they take none)"
                    : $"is not a parameter of {type} jobs (known: {string.Join(", ", known)})"));
            }
        }

        return errors;
    }

    public static bool? Boolean(JsonElement parameters, string name, List<JobParameterError> errors)
    {
        if (!parameters.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return value.GetBoolean();
        }

        errors.Add(new($"parameters.{name}", "must be true or false"));
        return null;
    }

    public static string? Text(JsonElement parameters, string name, List<JobParameterError> errors, params string[] allowed)
    {
        if (!parameters.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String || allowed.Length > 0 && Array.IndexOf(allowed, value.GetString()) < 0)
        {
            errors.Add(new($"parameters.{name}", allowed.Length > 0 ? $"must be one of: {string.Join(", ", allowed)}" : "must be a string"));
            return null;
        }

        return value.GetString();
    }

    /// <summary>A path relative to the library's root (never absolute, never climbing out).</summary>
    public static string? RelativePath(JsonElement parameters, string name, List<JobParameterError> errors)
    {
        var text = Text(parameters, name, errors);
        if (text is not null && LibraryPaths.RelativeError(text) is { } error)
        {
            errors.Add(new($"parameters.{name}", error));
            return null;
        }

        return text?.TrimEnd('/');
    }

    public static string? JobId(JsonElement parameters, string name, List<JobParameterError> errors)
    {
        var text = Text(parameters, name, errors);
        if (text is not null && !JobIds.IsWellFormed(text))
        {
            errors.Add(new($"parameters.{name}", "must be a job id"));
            return null;
        }

        return text;
    }

    public static void Require(JsonElement parameters, string name, List<JobParameterError> errors)
    {
        if (parameters.ValueKind == JsonValueKind.Object && (!parameters.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null))
        {
            errors.Add(new($"parameters.{name}", "is required"));
        }
    }
}

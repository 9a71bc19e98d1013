using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>A submission as the silo checked it: its type, its parsed parameters and its fingerprint, or the errors that refuse it.</summary>
public sealed record CheckedSubmission(
    JobTypeRegistration? Registration, string ParametersJson, string Fingerprint, IReadOnlyList<JobParameterError> Errors);

/// <summary>Checks a submission against the registered types and their handlers, and fingerprints it for idempotency.</summary>
public static class JobSubmissionCheck
{
    public static CheckedSubmission Check(JobSubmission submission, JobHandlerRegistry handlers)
    {
        JsonElement? parsed;
        string? parseError = null;
        try
        {
            parsed = JsonDocument.Parse(submission.ParametersJson).RootElement.Clone();
        }
        catch (JsonException ex)
        {
            parsed = null;
            parseError = ex.Message;
        }

        var fingerprint = Fingerprint(submission, parsed);
        var parametersJson = parsed?.GetRawText() ?? submission.ParametersJson;
        if (!handlers.TryGet(submission.Type, out var registration))
        {
            var known = string.Join(", ", handlers.Names.Order(StringComparer.Ordinal));
            return new(null, parametersJson, fingerprint, [new("type", $"unknown job type '{submission.Type}' (known: {known})")]);
        }

        if (parsed is not { } parameters)
        {
            return new(registration, parametersJson, fingerprint, [new("parameters", $"is not valid JSON: {parseError}")]);
        }

        var errors = handlers.Create(registration).Validate(parameters).ToList();
        errors.AddRange(ValidateOverrides(submission));
        return new(registration, parametersJson, fingerprint, errors);
    }

    private static IEnumerable<JobParameterError> ValidateOverrides(JobSubmission submission)
    {
        if (submission.MaxAttempts is < 1 or > 100)
        {
            yield return new("maxAttempts", "must be from 1 to 100");
        }

        if (submission.CheckpointEveryItems is < 1 or > 1_000_000)
        {
            yield return new("checkpoint.everyItems", "must be from 1 to 1000000");
        }

        if (submission.CheckpointInterval is { } interval && (interval < TimeSpan.FromMilliseconds(100) || interval > TimeSpan.FromHours(1)))
        {
            yield return new("checkpoint.intervalMs", "must be from 100 to 3600000");
        }
    }

    /// <summary>Identifies the request behind an idempotency key; invalid JSON is fingerprinted as given (it is refused anyway).</summary>
    private static string Fingerprint(JobSubmission s, JsonElement? parsed)
    {
        var parameters = parsed?.GetRawText() ?? s.ParametersJson;
        var text = string.Join('\n', s.Type, parameters, s.Priority, s.MaxAttempts, s.CheckpointEveryItems, s.CheckpointInterval?.Ticks, s.RunAfter?.UtcTicks);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}

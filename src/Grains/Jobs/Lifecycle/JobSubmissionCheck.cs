using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>A submission as the silo checked it: its type, its parsed parameters and its fingerprint, or the errors that refuse it.</summary>
public sealed record CheckedSubmission(
    JobTypeRegistration? Registration, string ParametersJson, JsonElement? Parameters, string Fingerprint, IReadOnlyList<JobParameterError> Errors);

/// <summary>Checks a submission against the registered types, their handlers and <see cref="JobSubmissionLimits"/>, and fingerprints it for idempotency.</summary>
public static class JobSubmissionCheck
{
    public static CheckedSubmission Check(JobSubmission submission, JobHandlerRegistry handlers, DateTimeOffset now)
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
            return new(null, parametersJson, parsed, fingerprint, [new("type", $"unknown job type '{submission.Type}' (known: {known})")]);
        }

        if (parsed is not { } parameters)
        {
            return new(registration, parametersJson, null, fingerprint, [new("parameters", $"is not valid JSON: {parseError}")]);
        }

        var errors = handlers.Create(registration).Validate(parameters).ToList();
        if (registration.Options.RequiresLibrary && submission.Library is null)
        {
            errors.Add(new("library", $"is required: job type '{submission.Type}' works on a library"));
        }

        if (registration.IsExternal && submission.Library is not null)
        {
            // A worker's claim takes the type's slot only: it could not hold the library's lock.
            errors.Add(new("library", $"job type '{submission.Type}' is run by external workers, which cannot hold a library's lock"));
        }

        if (registration.Options.DeviceKind is { } kind && submission.Device is null && submission.DeviceKind is null)
        {
            errors.Add(new("device", $"is required (or deviceKind): job type '{submission.Type}' runs on a device of kind '{kind}'"));
        }

        if (registration.Options.DeviceKind is { } typeKind && submission.DeviceKind is { } asked && asked != typeKind)
        {
            errors.Add(new("deviceKind", $"job type '{submission.Type}' runs on devices of kind '{typeKind}', not '{asked}'"));
        }

        if (registration.Options.DeviceKind is null && (submission.Device ?? submission.DeviceKind) is not null)
        {
            errors.Add(new(submission.Device is not null ? "device" : "deviceKind", $"job type '{submission.Type}' does not run on a device"));
        }

        errors.AddRange(JobSubmissionLimits.Validate(submission, now));
        return new(registration, parametersJson, parameters, fingerprint, errors);
    }

    /// <summary>Identifies the request behind an idempotency key; invalid JSON is fingerprinted as given (it is refused anyway).</summary>
    private static string Fingerprint(JobSubmission s, JsonElement? parsed)
    {
        var parameters = parsed?.GetRawText() ?? s.ParametersJson;
        var text = string.Join('\n', s.Type, parameters, s.Priority, s.MaxAttempts, s.CheckpointEveryItems, s.CheckpointInterval?.Ticks, s.RunAfter?.UtcTicks);
        if (s.Library is not null || s.LockWaitSeconds is not null)
        {
            // Appended only when given, so the fingerprints of earlier submissions stay as they were.
            text = string.Join('\n', text, s.Library, s.LockWaitSeconds);
        }

        if (s.Device is not null || s.DeviceKind is not null)
        {
            text = string.Join('\n', text, "device", s.Device, s.DeviceKind);
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}

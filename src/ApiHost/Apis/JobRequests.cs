using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Body of <c>POST /api/jobs</c> (documented shape; parsing is done by <see cref="JobRequests"/>).</summary>
/// <param name="Type">Registered job type, e.g. <c>synthetic</c>.</param>
/// <param name="Parameters">The job type's parameters (a JSON object).</param>
/// <param name="Priority">Higher runs first among queued jobs of a type; -1000 to 1000, default 0.</param>
/// <param name="MaxAttempts">Attempts before the job fails; 1 to 100, default per type (3).</param>
/// <param name="Checkpoint">Checkpoint override: every N items or T milliseconds.</param>
/// <param name="IdempotencyKey">Same key, same job: repeats return the existing job (also as header <c>Idempotency-Key</c>).</param>
/// <param name="RunAfter">Do not start before this time (ISO 8601 with offset, under a year ahead); the job waits Queued.</param>
public sealed record SubmitJobRequest(
    string Type, JsonElement? Parameters, int? Priority, int? MaxAttempts, CheckpointOverride? Checkpoint, string? IdempotencyKey,
    DateTimeOffset? RunAfter);

/// <summary>Checkpoint cadence of one job.</summary>
public sealed record CheckpointOverride(int? EveryItems, int? IntervalMs);

/// <summary>Optional body of the action endpoints.</summary>
/// <param name="Reason">Recorded in the journal (and as the error of force-fail).</param>
/// <param name="FromCheckpoint">Restart only: resume from the checkpoint (default) or start over.</param>
public sealed record JobActionRequest(string? Reason, bool? FromCheckpoint);

/// <summary>A field-level validation error.</summary>
public sealed record FieldError(string Field, string Message);

/// <summary>Parses and checks request bodies, naming the offending field in every error.</summary>
public static class JobRequests
{
    /// <summary>Largest accepted request body.</summary>
    public const int MaxBodyBytes = 256 * 1024;

    public const int MaxIdempotencyKeyLength = 200;

    /// <summary>Reads a JSON body of at most <see cref="MaxBodyBytes"/>; null body when empty.</summary>
    public static async Task<(JsonElement? Body, FieldError? Error)> ReadJsonAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            return (null, new FieldError("body", $"is larger than {MaxBodyBytes / 1024} KiB"));
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return (null, new FieldError("body", $"is larger than {MaxBodyBytes / 1024} KiB"));
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
        {
            return (null, null);
        }

        try
        {
            using var document = JsonDocument.Parse(buffer.ToArray());
            return (document.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            return (null, new FieldError("body", $"is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})"));
        }
    }

    public static (JobSubmission? Submission, List<FieldError> Errors) ParseSubmission(JsonElement? body, string? headerKey, string actor)
    {
        var errors = new List<FieldError>();
        if (body is not { ValueKind: JsonValueKind.Object } root)
        {
            errors.Add(new("body", "must be a JSON object with at least \"type\""));
            return (null, errors);
        }

        Unknown(root, ["type", "parameters", "priority", "maxAttempts", "checkpoint", "idempotencyKey", "runAfter"], "a job submission", errors);

        var type = String(root, "type", errors, required: true, maxLength: 64);
        var parameters = "{}";
        if (root.TryGetProperty("parameters", out var p) && p.ValueKind != JsonValueKind.Null)
        {
            if (p.ValueKind == JsonValueKind.Object)
            {
                parameters = p.GetRawText();
            }
            else
            {
                errors.Add(new("parameters", "must be a JSON object"));
            }
        }

        var priority = Integer(root, "priority", -1000, 1000, errors) ?? 0;
        var maxAttempts = Integer(root, "maxAttempts", 1, 100, errors);
        int? everyItems = null;
        int? intervalMs = null;
        if (root.TryGetProperty("checkpoint", out var checkpoint) && checkpoint.ValueKind != JsonValueKind.Null)
        {
            if (checkpoint.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new("checkpoint", "must be an object with everyItems and/or intervalMs"));
            }
            else
            {
                everyItems = Integer(checkpoint, "everyItems", 1, 1_000_000, errors, "checkpoint.");
                intervalMs = Integer(checkpoint, "intervalMs", 100, 3_600_000, errors, "checkpoint.");
            }
        }

        DateTimeOffset? runAfter = null;
        if (root.TryGetProperty("runAfter", out var after) && after.ValueKind != JsonValueKind.Null)
        {
            if (after.ValueKind == JsonValueKind.String && after.TryGetDateTimeOffset(out var at) && at < DateTimeOffset.UtcNow.AddYears(1))
            {
                runAfter = at;
            }
            else
            {
                errors.Add(new("runAfter", "must be an ISO 8601 date and time with offset, less than a year ahead"));
            }
        }

        var bodyKey = String(root, "idempotencyKey", errors, required: false, maxLength: MaxIdempotencyKeyLength);
        if (headerKey is not null && headerKey.Length is 0 or > MaxIdempotencyKeyLength)
        {
            errors.Add(new("Idempotency-Key", $"must be 1 to {MaxIdempotencyKeyLength} characters"));
        }

        if (bodyKey is not null && headerKey is not null && !string.Equals(bodyKey, headerKey, StringComparison.Ordinal))
        {
            errors.Add(new("idempotencyKey", "differs from the Idempotency-Key header"));
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var key = bodyKey ?? headerKey;
        return (new JobSubmission(type!, parameters, priority, maxAttempts, everyItems,
            intervalMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, key, actor, runAfter), errors);
    }

    public static (JobActionRequest Request, List<FieldError> Errors) ParseAction(JsonElement? body)
    {
        var errors = new List<FieldError>();
        if (body is null)
        {
            return (new JobActionRequest(null, null), errors);
        }

        if (body.Value.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("body", "must be a JSON object"));
            return (new JobActionRequest(null, null), errors);
        }

        var reason = String(body.Value, "reason", errors, required: false, maxLength: 1000);
        bool? fromCheckpoint = null;
        if (body.Value.TryGetProperty("fromCheckpoint", out var f) && f.ValueKind != JsonValueKind.Null)
        {
            if (f.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                fromCheckpoint = f.GetBoolean();
            }
            else
            {
                errors.Add(new("fromCheckpoint", "must be true or false"));
            }
        }

        return (new JobActionRequest(reason, fromCheckpoint), errors);
    }

    /// <summary>
    /// The job id of a submission: a name-based UUID (SHA-256 of the key, RFC 9562 version 8) when
    /// an idempotency key is given, so duplicates meet in the same grain without a lookup;
    /// otherwise a fresh time-ordered UUID (version 7).
    /// </summary>
    public static string JobIdFor(string? idempotencyKey)
    {
        if (idempotencyKey is null)
        {
            return Guid.CreateVersion7().ToString();
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("orleansjobs:" + idempotencyKey), hash);
        var bytes = hash[..16].ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // version 8
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC variant
        return new Guid(bytes, bigEndian: true).ToString();
    }

    /// <summary>Names every property of <paramref name="root"/> that is not one of <paramref name="known"/>: a typo fails loudly.</summary>
    internal static void Unknown(JsonElement root, string[] known, string what, List<FieldError> errors, string prefix = "")
    {
        foreach (var property in root.EnumerateObject().Where(p => Array.IndexOf(known, p.Name) < 0))
        {
            errors.Add(new(prefix + property.Name, $"is not a field of {what} (known: {string.Join(", ", known)})"));
        }
    }

    internal static string? String(JsonElement root, string name, List<FieldError> errors, bool required, int maxLength)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                errors.Add(new(name, "is required"));
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } text || text.Length > maxLength)
        {
            errors.Add(new(name, $"must be a string of 1 to {maxLength} characters"));
            return null;
        }

        return text;
    }

    internal static int? Integer(JsonElement root, string name, int min, int max, List<FieldError> errors, string prefix = "")
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number) || number < min || number > max)
        {
            errors.Add(new(prefix + name, $"must be a whole number from {min} to {max}"));
            return null;
        }

        return number;
    }
}

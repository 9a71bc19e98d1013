using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>A job id in a route: the contract's well-formed id (<see cref="JobIds.IsWellFormed"/>), so a blank or unusable id is a 400 naming <c>id</c>.</summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Property)]
public sealed class JobIdAttribute : ValidationAttribute
{
    public JobIdAttribute()
        : base($"must be a job id: 1 to {JobIds.MaxLength} characters, not blank, without control characters")
    {
    }

    public override bool IsValid(object? value) => value is string id && JobIds.IsWellFormed(id);
}

/// <summary>A library id in a route or body: <see cref="Libraries.LibraryIds.Rule"/>, so anything else is a 400 naming the field.</summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Property)]
public sealed class LibraryIdAttribute() : ValidationAttribute($"must be a library id: {Libraries.LibraryIds.Rule}")
{
    public override bool IsValid(object? value) => value is null || value is string id && Libraries.LibraryIds.IsValid(id);
}

/// <summary>A device id or kind in a route, body or query: <see cref="Devices.DeviceIds.Rule"/>, so anything else is a 400 naming the field.</summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Property)]
public sealed class DeviceIdAttribute() : ValidationAttribute($"must be a device id: {Devices.DeviceIds.Rule}")
{
    public override bool IsValid(object? value) => value is null || value is string id && Devices.DeviceIds.IsValid(id);
}

/// <summary>
/// A free-text query value that reaches SQL: at most <see cref="MaxLength"/> characters, no control
/// characters, storable. PostgreSQL refuses a NUL in text; checked here, that is a 400 naming the
/// parameter instead of a failed statement.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Property)]
public sealed class QueryTextAttribute(int maxLength) : ValidationAttribute($"must be at most {maxLength} characters, without control characters")
{
    public int MaxLength => maxLength;

    public override bool IsValid(object? value) =>
        value is null || value is string text && text.Length <= maxLength && !text.Any(char.IsControl) && StorableText.IsStorable(text);
}

/// <summary>A type parsed from one query string value (its static TryParse); a string in the OpenAPI document.</summary>
public interface IQueryValue
{
}

/// <summary>A query value type that accepts exactly one of <see cref="Names"/>; the OpenAPI document lists them as its enum.</summary>
public interface INamedQueryValue : IQueryValue
{
    static abstract IReadOnlyList<string> Names { get; }
}

/// <summary>The text of a page cursor as it travels in a query string: base64url without padding, of UTF-8.</summary>
public static class CursorText
{
    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Encode(string text) =>
        Convert.ToBase64String(StrictUtf8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The text <see cref="Encode"/> made of <paramref name="value"/>; null when it is not one (too long, not base64url, not UTF-8, empty, not storable).</summary>
    public static string? Decode(string? value, int maxLength)
    {
        if (value is not { Length: > 0 } || value.Length > maxLength)
        {
            return null;
        }

        try
        {
            var padded = value.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var text = StrictUtf8.GetString(Convert.FromBase64String(padded));
            return text.Length > 0 && StorableText.IsStorable(text) ? text : null;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            return null;
        }
    }
}

/// <summary>
/// Whether free-form JSON from a request can be stored: no NUL, no unpaired surrogate, and valid
/// UTF-8 everywhere. The JSON reader checks the UTF-8 of values as it reads them, but a property
/// name's only when it is turned into text: a bad byte there must be a 400, not an exception.
/// </summary>
public static class StorableJson
{
    public static bool IsStorable(JsonElement element)
    {
        try
        {
            return Walk(element);
        }
        catch (InvalidOperationException)
        {
            return false; // text that is not UTF-8
        }
    }

    private static bool Walk(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().All(p => StorableText.IsStorable(p.Name) && Walk(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().All(Walk),
        JsonValueKind.String => StorableText.IsStorable(element.GetString()!),
        _ => true,
    };
}

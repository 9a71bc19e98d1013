using System.ComponentModel.DataAnnotations;
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

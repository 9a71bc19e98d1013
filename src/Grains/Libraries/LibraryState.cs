namespace OrleansJobs.Libraries;

/// <summary>A library's durable state in the <c>jobs</c> store, stored as JSON: add properties, never rename or retype them.</summary>
public sealed class LibraryState
{
    public bool Exists { get; set; }

    public string Name { get; set; } = "";

    /// <summary>Canonical root folder (absolute, links resolved), under an allowed base.</summary>
    public string Root { get; set; } = "";

    public LibrarySettings Settings { get; set; } = new();

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public long Version { get; set; }
}

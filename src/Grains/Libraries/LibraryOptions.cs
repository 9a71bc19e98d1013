namespace OrleansJobs.Libraries;

/// <summary>Configuration section <c>Libraries</c>.</summary>
public sealed class LibraryOptions
{
    public const string Section = "Libraries";

    /// <summary>Folders under which library roots may lie; a root anywhere else is refused. None: no library can be created.</summary>
    public List<string> AllowedRoots { get; set; } = [];
}

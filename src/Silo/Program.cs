using OrleansJobs.Silo.Hosting;

return args is ["migrate", .. var rest]
    ? await SchemaCommand.RunAsync(rest)
    : await SiloProgram.RunAsync(args);

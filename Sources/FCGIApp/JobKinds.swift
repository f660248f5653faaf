import ETL
import Exporters
import Extraction
import Jobs

/// Every job kind this build runs.
func buildJobRegistry(testKinds: Bool, documents: DocumentSettings, extraction: ExtractionSettings,
                             connections: ConnectionSettings, exports: ExportSettings) -> JobRegistry {
    let registry = JobRegistry()
    ETLSync.register(on: registry, settings: connections)
    registry.periodic(every: 5) { database in _ = try ETLScheduler.tick(database) }
    DocumentExtraction.register(on: registry, uploadsDirectory: documents.uploadsDirectory)
    FieldExtraction.register(on: registry, uploadsDirectory: documents.uploadsDirectory, settings: extraction)
    ExportJob.register(on: registry, settings: exports)
    registry.periodic(every: 10) { database in ExportJob.sweep(database, settings: exports) }
    if testKinds { TestJobs.register(on: registry) }
    return registry
}

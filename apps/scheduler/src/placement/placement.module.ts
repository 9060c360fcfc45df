import { Module } from '@nestjs/common';
import { LeadershipModule } from '../leadership/leadership.module';
import { PlacementGateway } from './placement.gateway';
import { WorkerRegistry } from './worker-registry.service';
import { WorkerSnapshotRepository } from './worker-snapshot.repository';

/** The placement.v1 gRPC server and the registry of workers it feeds. */
@Module({
  imports: [LeadershipModule],
  providers: [WorkerSnapshotRepository, WorkerRegistry, PlacementGateway],
  exports: [WorkerRegistry, PlacementGateway],
})
export class PlacementModule {}

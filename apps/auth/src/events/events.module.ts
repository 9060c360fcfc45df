import { Global, Module } from '@nestjs/common';
import { AuthEventsService } from './auth-events.service';

@Global()
@Module({ providers: [AuthEventsService], exports: [AuthEventsService] })
export class EventsModule {}

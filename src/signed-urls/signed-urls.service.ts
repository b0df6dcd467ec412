import { ForbiddenException, Injectable } from '@nestjs/common';
import { invalidField } from '../common/api-errors';
import { AppConfig } from '../config/app-config';
import { Principal } from '../identity/principal';
import { parsePresetSteps } from '../pipelines/preset-steps';
import { DerivativeAnswer, DerivativesService } from '../derivatives/derivatives.service';
import { ImagesService } from '../images/images.service';
import { PresetsService } from '../presets/presets.service';
import { decodeFreeFormSteps, encodeFreeFormSteps, isFreeForm, MAX_FREE_FORM_SEGMENT } from './free-form-steps';
import { SignedTarget, UrlSigner } from './url-signature';

const STRICT =
  'This server allows only presets on public URLs (STRICT_PRESETS is on): name a preset (GET /api/presets.json), ' +
  'or ask an admin for one with these steps';

/** A public URL as issued: its path (to put after the server's origin) and when it stops working. */
export interface IssuedUrl {
  path: string;
  expiresAt: Date | null;
}

/**
 * Public derivative URLs, for `<img>` tags and CDNs that cannot send a bearer token: the owner
 * (or an admin) has one signed for a preset of an image; whoever holds it gets that derivative,
 * and nothing else: the signature covers the preset, the image and the expiry. With STRICT_PRESETS
 * off, a URL may carry free-form steps in place of a preset's name (signed with the rest); with it
 * on (the default), such URLs are neither issued nor served, so that no URL makes the server
 * compute work an admin did not define.
 */
@Injectable()
export class SignedUrlsService {
  constructor(
    private readonly signer: UrlSigner,
    private readonly images: ImagesService,
    private readonly presets: PresetsService,
    private readonly derivatives: DerivativesService,
    private readonly config: AppConfig,
  ) {}

  async issue(
    principal: Principal,
    imageId: number,
    presetName: string,
    expiresIn: number | undefined,
    now = new Date(),
  ): Promise<IssuedUrl> {
    await this.images.findOne(principal, imageId);
    const preset = await this.presets.findOne(presetName);
    return this.signed(preset.name, imageId, expiresIn, now);
  }

  /** A public URL of free-form steps (checked as a preset's), when STRICT_PRESETS is off. */
  async issueSteps(
    principal: Principal,
    imageId: number,
    input: { job_type: string[]; params?: Record<string, unknown> },
    expiresIn: number | undefined,
    now = new Date(),
  ): Promise<IssuedUrl> {
    if (this.config.STRICT_PRESETS) throw new ForbiddenException(STRICT);
    await this.images.findOne(principal, imageId);
    const segment = encodeFreeFormSteps(parsePresetSteps(input));
    if (segment.length > MAX_FREE_FORM_SEGMENT) {
      throw invalidField(
        'params',
        `These steps take ${segment.length} characters in a URL, over ${MAX_FREE_FORM_SEGMENT}: make them a preset`,
      );
    }
    return this.signed(segment, imageId, expiresIn, now);
  }

  private signed(segment: string, imageId: number, expiresIn: number | undefined, now: Date): IssuedUrl {
    const expires = expiresIn === undefined ? null : Math.floor(now.getTime() / 1000) + expiresIn;
    const target: SignedTarget = { preset: segment, imageId, expires };
    const query = expires === null ? '' : `?expires=${expires}`;
    return {
      path: `/r/${this.signer.sign(target)}/${encodeURIComponent(segment)}/${imageId}${query}`,
      expiresAt: expires === null ? null : new Date(expires * 1000),
    };
  }

  /**
   * The derivative a signed URL names. The signature (and STRICT_PRESETS) is checked before
   * anything is read, so a forged or expired URL costs the database nothing; a good one is served as the image's owner
   * would be (its job counts against the owner's quotas).
   */
  serve(signature: string, target: SignedTarget, accept: string | undefined): Promise<DerivativeAnswer> {
    const freeForm = isFreeForm(target.preset);
    if (freeForm && this.config.STRICT_PRESETS) throw new ForbiddenException(STRICT);
    const check = this.signer.check(signature, target);
    if (check === 'expired') throw new ForbiddenException(`This URL expired at ${new Date(target.expires! * 1000).toISOString()}`);
    if (check === 'invalid') throw new ForbiddenException('This URL’s signature is not valid for this preset, image and expiry');
    const owner = Principal.adminToken();
    if (freeForm) return this.derivatives.serveSteps(owner, target.imageId, decodeFreeFormSteps(target.preset), accept);
    return this.derivatives.serve(owner, target.imageId, target.preset, accept);
  }
}

import { ForbiddenException, Injectable } from '@nestjs/common';
import { Principal } from '../identity/principal';
import { DerivativeAnswer, DerivativesService } from '../derivatives/derivatives.service';
import { ImagesService } from '../images/images.service';
import { PresetsService } from '../presets/presets.service';
import { SignedTarget, UrlSigner } from './url-signature';

/** A public URL as issued: its path (to put after the server's origin) and when it stops working. */
export interface IssuedUrl {
  path: string;
  expiresAt: Date | null;
}

/**
 * Public derivative URLs, for `<img>` tags and CDNs that cannot send a bearer token: the owner
 * (or an admin) has one signed for a preset of an image; whoever holds it gets that derivative,
 * and nothing else: the signature covers the preset, the image and the expiry, and only presets,
 * never free-form steps, can be named, so that no one can make the server compute arbitrary work.
 */
@Injectable()
export class SignedUrlsService {
  constructor(
    private readonly signer: UrlSigner,
    private readonly images: ImagesService,
    private readonly presets: PresetsService,
    private readonly derivatives: DerivativesService,
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
    const expires = expiresIn === undefined ? null : Math.floor(now.getTime() / 1000) + expiresIn;
    const target: SignedTarget = { preset: preset.name, imageId, expires };
    const query = expires === null ? '' : `?expires=${expires}`;
    return {
      path: `/r/${this.signer.sign(target)}/${encodeURIComponent(preset.name)}/${imageId}${query}`,
      expiresAt: expires === null ? null : new Date(expires * 1000),
    };
  }

  /**
   * The derivative a signed URL names. The signature is checked before anything is read, so a
   * forged or expired URL costs the database nothing; a good one is served as the image's owner
   * would be (its job counts against the owner's quotas).
   */
  serve(signature: string, target: SignedTarget, accept: string | undefined): Promise<DerivativeAnswer> {
    const check = this.signer.check(signature, target);
    if (check === 'expired') throw new ForbiddenException(`This URL expired at ${new Date(target.expires! * 1000).toISOString()}`);
    if (check === 'invalid') throw new ForbiddenException('This URL’s signature is not valid for this preset, image and expiry');
    return this.derivatives.serve(Principal.adminToken(), target.imageId, target.preset, accept);
  }
}
